"""The download engine on real files through LocalTransport."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import List

import pytest

from ppdesk.cancel import CancelToken
from ppdesk.remote.errors import ConnectionLost
from ppdesk.remote.local import FETCH_CHUNK, LocalTransport
from ppdesk.transfer.engine import download
from ppdesk.transfer.plan import PlannedFile, planned_files
from ppdesk.transfer.report import FileStatus, TransferProgress

MIB = 1024 * 1024


class CountingTransport(LocalTransport):
    """A real LocalTransport that counts the bytes it fetches."""

    def __init__(self, root: Path) -> None:
        super().__init__(LocalTransport.for_root(root).layout)
        self.fetched = 0
        self._lock = threading.Lock()

    def fetch(self, path, dest, offset=0, length=None, on_bytes=None, cancel=None):
        count = super().fetch(path, dest, offset, length, on_bytes, cancel)
        with self._lock:
            self.fetched += count
        return count


class DroppingTransport(CountingTransport):
    """Delivers at most ``budget`` bytes per fetch, then drops the link, ``drops`` times."""

    def __init__(self, root: Path, budget: int, drops: int) -> None:
        super().__init__(root)
        self.budget = budget
        self.drops = drops

    def fetch(self, path, dest, offset=0, length=None, on_bytes=None, cancel=None):
        if self.drops <= 0:
            return super().fetch(path, dest, offset, length, on_bytes, cancel)
        self.drops -= 1
        delivered = self.budget if length is None else min(self.budget, length)
        super().fetch(path, dest, offset, delivered, on_bytes, cancel)
        raise ConnectionLost(f"simulated drop after {delivered} bytes of {path}")


class CancellingTransport(CountingTransport):
    """Sets ``token`` after the first chunk it delivers."""

    def __init__(self, root: Path, token: CancelToken) -> None:
        super().__init__(root)
        self.token = token

    def fetch(self, path, dest, offset=0, length=None, on_bytes=None, cancel=None):
        def note(count: int) -> None:
            if on_bytes is not None:
                on_bytes(count)
            self.token.cancel()

        return super().fetch(path, dest, offset, length, note, cancel)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def plan_for(root: Path, hash_weights: bool = True) -> List[PlannedFile]:
    plan = []
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        st = path.stat()
        digest = sha(path.read_bytes()) if hash_weights and path.suffix == ".safetensors" else None
        plan.append(PlannedFile(str(path), path.relative_to(root).as_posix(), st.st_size, st.st_mtime, digest))
    return plan


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "source"
    write(root / "pytorch_lora_weights.safetensors", os.urandom(3 * MIB + 17))
    write(root / "checkpoint-200" / "pytorch_lora_weights.safetensors", os.urandom(MIB // 2))
    write(root / "validation_images" / "step_100_cat_1024x1024.png", os.urandom(5000))
    write(root / "logs" / "train.log", b"line\n" * 100)
    write(root / "empty.txt", b"")
    return root


def assert_same_tree(source: Path, dest: Path) -> None:
    for path in source.rglob("*"):
        if path.is_file():
            copy = dest / path.relative_to(source)
            assert copy.read_bytes() == path.read_bytes(), copy
            assert sha(copy.read_bytes()) == sha(path.read_bytes())
    assert list(dest.rglob("*.part")) == []


@pytest.mark.parametrize("jobs", [1, 4])
def test_download_copies_bytes(source: Path, tmp_path: Path, jobs: int):
    dest = tmp_path / "dest"
    plan = plan_for(source)
    report = download(LocalTransport.for_root(source), plan, dest, jobs=jobs)
    assert report.ok, report.outcomes
    assert len(report.downloaded) == len(plan)
    assert report.bytes_fetched == sum(planned.size for planned in plan)
    assert_same_tree(source, dest)
    for planned in plan:
        assert (dest / planned.rel_path).stat().st_mtime == pytest.approx(planned.mtime, abs=1e-3)


def test_rerun_skips_everything(source: Path, tmp_path: Path):
    dest = tmp_path / "dest"
    plan = plan_for(source)
    download(LocalTransport.for_root(source), plan, dest)
    counting = CountingTransport(source)
    report = download(counting, plan, dest)
    assert [outcome.status for outcome in report.outcomes] == [FileStatus.SKIPPED] * len(plan)
    assert counting.fetched == 0
    assert report.ok


def test_rerun_without_hashes_skips_by_size_and_mtime(source: Path, tmp_path: Path):
    dest = tmp_path / "dest"
    plan = plan_for(source, hash_weights=False)
    download(LocalTransport.for_root(source), plan, dest)
    report = download(CountingTransport(source), plan, dest)
    assert len(report.skipped) == len(plan)


def test_conflicting_file_is_kept(source: Path, tmp_path: Path):
    dest = tmp_path / "dest"
    plan = plan_for(source)
    local_log = write(dest / "logs" / "train.log", b"my own notes")
    same_size = os.urandom(MIB // 2)
    local_weights = write(dest / "checkpoint-200" / "pytorch_lora_weights.safetensors", same_size)

    report = download(LocalTransport.for_root(source), plan, dest)

    assert local_log.read_bytes() == b"my own notes"
    assert local_weights.read_bytes() == same_size
    conflicts = {outcome.rel: outcome.message for outcome in report.conflicts}
    assert set(conflicts) == {"logs/train.log", "checkpoint-200/pytorch_lora_weights.safetensors"}
    assert "12 bytes" in conflicts["logs/train.log"]
    assert "sha256" in conflicts["checkpoint-200/pytorch_lora_weights.safetensors"]
    assert not report.ok
    assert len(report.downloaded) == len(plan) - 2
    assert not (dest / "logs" / "train.log.part").exists()


def test_same_size_older_file_without_hash_is_conflict(tmp_path: Path):
    source = tmp_path / "source"
    remote = write(source / "notes.txt", b"new text")
    os.utime(remote, (2_000_000_000, 2_000_000_000))
    local = write(tmp_path / "dest" / "notes.txt", b"old text")
    os.utime(local, (1_000_000_000, 1_000_000_000))
    report = download(LocalTransport.for_root(source), plan_for(source), tmp_path / "dest")
    assert report.outcomes[0].status is FileStatus.CONFLICT
    assert local.read_bytes() == b"old text"


def test_partial_file_is_resumed(source: Path, tmp_path: Path):
    dest = tmp_path / "dest"
    plan = [planned for planned in plan_for(source) if planned.rel_path == "pytorch_lora_weights.safetensors"]
    data = (source / "pytorch_lora_weights.safetensors").read_bytes()
    write(dest / "pytorch_lora_weights.safetensors.part", data[: MIB + 5])

    counting = CountingTransport(source)
    report = download(counting, plan, dest)

    assert report.ok, report.outcomes
    assert counting.fetched == len(data) - (MIB + 5)
    assert report.bytes_fetched == len(data) - (MIB + 5)
    assert (dest / "pytorch_lora_weights.safetensors").read_bytes() == data
    assert not (dest / "pytorch_lora_weights.safetensors.part").exists()


def test_part_longer_than_remote_starts_over(source: Path, tmp_path: Path):
    dest = tmp_path / "dest"
    plan = [planned for planned in plan_for(source) if planned.rel_path == "logs/train.log"]
    write(dest / "logs" / "train.log.part", b"z" * 10_000)
    counting = CountingTransport(source)
    report = download(counting, plan, dest)
    assert report.ok
    assert counting.fetched == 500
    assert (dest / "logs" / "train.log").read_bytes() == b"line\n" * 100


def test_sha256_mismatch_leaves_no_file(source: Path, tmp_path: Path):
    dest = tmp_path / "dest"
    good = [planned for planned in plan_for(source) if planned.rel_path == "pytorch_lora_weights.safetensors"][0]
    bad = PlannedFile(good.remote_path, good.rel_path, good.size, good.mtime, "0" * 64)
    report = download(LocalTransport.for_root(source), [bad], dest)
    outcome = report.outcomes[0]
    assert outcome.status is FileStatus.FAILED
    assert "sha256" in outcome.message
    assert not (dest / good.rel_path).exists()
    assert not (dest / (good.rel_path + ".part")).exists()


def test_corrupt_part_is_caught_by_hash(source: Path, tmp_path: Path):
    dest = tmp_path / "dest"
    plan = [planned for planned in plan_for(source) if planned.rel_path == "pytorch_lora_weights.safetensors"]
    write(dest / "pytorch_lora_weights.safetensors.part", b"\x00" * MIB)

    first = download(LocalTransport.for_root(source), plan, dest)
    assert first.outcomes[0].status is FileStatus.FAILED
    assert not (dest / "pytorch_lora_weights.safetensors").exists()

    second = download(LocalTransport.for_root(source), plan, dest)
    assert second.ok
    assert (dest / "pytorch_lora_weights.safetensors").read_bytes() == (source / "pytorch_lora_weights.safetensors").read_bytes()


@pytest.mark.parametrize("rel", ["../x", "/abs-target", "C:\\x", "a\\..\\b", "C:/x", "ok/../../x"])
def test_escaping_names_are_rejected(source: Path, tmp_path: Path, rel: str):
    dest = tmp_path / "area" / "dest"
    dest.mkdir(parents=True)
    remote = source / "logs" / "train.log"
    st = remote.stat()
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    report = download(LocalTransport.for_root(source), [PlannedFile(str(remote), rel, st.st_size, st.st_mtime)], dest)
    assert report.outcomes[0].status is FileStatus.FAILED
    assert repr(rel) in report.outcomes[0].message
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before
    assert not Path("/abs-target").exists()


def test_cancel_keeps_part_and_later_run_finishes(source: Path, tmp_path: Path):
    dest = tmp_path / "dest"
    plan = [planned for planned in plan_for(source) if planned.rel_path == "pytorch_lora_weights.safetensors"]
    data = (source / "pytorch_lora_weights.safetensors").read_bytes()
    token = CancelToken()

    report = download(CancellingTransport(source, token), plan, dest, cancel=token)

    assert report.outcomes[0].status is FileStatus.CANCELLED
    part = dest / "pytorch_lora_weights.safetensors.part"
    assert part.stat().st_size == FETCH_CHUNK
    assert part.read_bytes() == data[:FETCH_CHUNK]
    assert not (dest / "pytorch_lora_weights.safetensors").exists()

    counting = CountingTransport(source)
    again = download(counting, plan, dest)
    assert again.ok
    assert counting.fetched == len(data) - FETCH_CHUNK
    assert (dest / "pytorch_lora_weights.safetensors").read_bytes() == data


def test_cancel_before_start_touches_nothing(source: Path, tmp_path: Path):
    token = CancelToken()
    token.cancel()
    report = download(LocalTransport.for_root(source), plan_for(source), tmp_path / "dest", cancel=token)
    assert {outcome.status for outcome in report.outcomes} == {FileStatus.CANCELLED}
    assert not (tmp_path / "dest").exists()


def test_dropped_link_is_retried(source: Path, tmp_path: Path):
    dest = tmp_path / "dest"
    plan = [planned for planned in plan_for(source) if planned.rel_path == "pytorch_lora_weights.safetensors"]
    data = (source / "pytorch_lora_weights.safetensors").read_bytes()
    dropping = DroppingTransport(source, budget=700_000, drops=3)

    report = download(dropping, plan, dest, backoff=0.001)

    assert report.ok, report.outcomes
    assert dropping.drops == 0
    assert dropping.fetched == len(data)
    assert (dest / "pytorch_lora_weights.safetensors").read_bytes() == data


def test_link_that_keeps_dropping_fails_and_keeps_part(source: Path, tmp_path: Path):
    dest = tmp_path / "dest"
    plan = [planned for planned in plan_for(source) if planned.rel_path == "pytorch_lora_weights.safetensors"]
    dropping = DroppingTransport(source, budget=1000, drops=100)
    report = download(dropping, plan, dest, retries=2, backoff=0.001)
    outcome = report.outcomes[0]
    assert outcome.status is FileStatus.FAILED
    assert "3 attempts" in outcome.message
    assert (dest / "pytorch_lora_weights.safetensors.part").stat().st_size == 3000


def test_size_change_after_plan_is_reported(source: Path, tmp_path: Path):
    dest = tmp_path / "dest"
    plan = [planned for planned in plan_for(source) if planned.rel_path == "logs/train.log"]
    with open(source / "logs" / "train.log", "ab") as handle:
        handle.write(b"one more line\n")
    report = download(LocalTransport.for_root(source), plan, dest)
    outcome = report.outcomes[0]
    assert outcome.status is FileStatus.FAILED
    assert "changed during download" in outcome.message
    assert not (dest / "logs" / "train.log").exists()
    assert not (dest / "logs" / "train.log.part").exists()


def test_remote_file_gone_is_failed(source: Path, tmp_path: Path):
    plan = [planned for planned in plan_for(source) if planned.rel_path == "empty.txt"]
    (source / "empty.txt").unlink()
    report = download(LocalTransport.for_root(source), plan, tmp_path / "dest")
    assert report.outcomes[0].status is FileStatus.FAILED
    assert "empty.txt" in report.outcomes[0].message


def test_duplicate_rel_downloaded_once(source: Path, tmp_path: Path):
    plan = [planned for planned in plan_for(source) if planned.rel_path == "logs/train.log"]
    report = download(LocalTransport.for_root(source), plan * 2, tmp_path / "dest")
    statuses = [outcome.status for outcome in report.outcomes]
    assert statuses == [FileStatus.DOWNLOADED, FileStatus.FAILED]
    assert "twice" in report.outcomes[1].message


def test_progress_reaches_totals(source: Path, tmp_path: Path):
    events: List[TransferProgress] = []
    plan = plan_for(source)
    download(LocalTransport.for_root(source), plan, tmp_path / "dest", jobs=2, on_progress=events.append)
    total = sum(planned.size for planned in plan)
    last = events[-1]
    assert last.done_bytes == total
    assert last.total_bytes == total
    assert last.files_done == last.files_total == len(plan)
    done = [event.done_bytes for event in events]
    assert done == sorted(done)
    weights = [event for event in events if event.rel == "pytorch_lora_weights.safetensors"]
    assert weights[-1].file_done == weights[-1].file_total == 3 * MIB + 17


def test_plan_from_agent_downloads_output(tmp_path: Path, copy_fixture):
    root = tmp_path / "workspace"
    copy_fixture("simpletuner/flux.peft-lora", root / "SimpleTuner" / "config" / "flux.peft-lora")
    output = root / "SimpleTuner" / "output" / "examples" / "flux.peft-lora"
    write(output / "pytorch_lora_weights.safetensors", os.urandom(MIB + 3))
    write(output / "checkpoint-100" / "pytorch_lora_weights.safetensors", b"old")
    write(output / "checkpoint-200" / "pytorch_lora_weights.safetensors", b"new")
    write(output / "checkpoint-200" / "optimizer.bin", b"state")
    raw_name = os.fsencode(output) + b"/validation_images/step_1_caf\xe9_64x64.png"
    os.makedirs(os.path.dirname(raw_name))
    with open(raw_name, "wb") as handle:
        handle.write(b"png")

    transport = LocalTransport.for_root(root)
    data = transport.run_agent("plan_download", {"config": "flux.peft-lora", "kind": "output"})
    dest = tmp_path / "dest" / "flux.peft-lora" / "output"
    report = download(transport, planned_files(data["files"]), dest)

    assert report.ok, report.outcomes
    assert sorted(outcome.rel for outcome in report.downloaded) == sorted(
        [
            "checkpoint-200/pytorch_lora_weights.safetensors",
            "pytorch_lora_weights.safetensors",
            os.fsdecode(b"validation_images/step_1_caf\xe9_64x64.png"),
        ]
    )
    assert (dest / "checkpoint-200" / "pytorch_lora_weights.safetensors").read_bytes() == b"new"
    assert not (dest / "checkpoint-100").exists()
    assert not (dest / "checkpoint-200" / "optimizer.bin").exists()
    with open(os.fsencode(dest) + b"/validation_images/step_1_caf\xe9_64x64.png", "rb") as handle:
        assert handle.read() == b"png"
