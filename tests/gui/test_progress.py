"""The progress panel: byte phases shown in binary units with their names."""

from __future__ import annotations

from ppdesk.gui.progress import (
    HASHING_SHARE,
    PHASE_COPYING,
    PHASE_DOWNLOADING,
    PHASE_HASHING,
    ProgressPanel,
    byte_phase,
)
from ppdesk.tools.base import ProgressEvent

GIB = 1024**3


def running_panel(qtbot) -> ProgressPanel:
    panel = ProgressPanel(titles={"do": "Download output"}, show_delay_ms=0)
    qtbot.addWidget(panel)
    panel.begin("Post-process", steps=5)
    return panel


def test_hashing_phase_in_mib(qtbot):
    panel = running_panel(qtbot)

    # The pod's hashing progress, as tools.common forwards the agent's line.
    panel.update_progress(
        ProgressEvent(tool="do", config="sofia_001", message="hashing lora.safetensors", done=540016640, total=1073745834,
                      unit="bytes", phase="hashing")
    )

    text = panel.stats_label.text()
    assert text.startswith("Hashing on the pod: 515.0 MiB of 1.0 GiB")
    assert "540016640" not in text


def test_downloading_phase_named(qtbot):
    panel = running_panel(qtbot)

    panel.update_progress(
        ProgressEvent(
            tool="do",
            config="sofia_001",
            message="downloading lora.safetensors",
            done=3 * GIB // 2,
            total=2 * GIB,
            unit="bytes",
            file="lora.safetensors",
            file_done=3 * GIB // 2,
            file_total=2 * GIB,
        )
    )

    assert panel.stats_label.text().startswith("Downloading: 1.5 GiB of 2.0 GiB")


def test_item_progress_keeps_counts(qtbot):
    panel = running_panel(qtbot)

    panel.update_progress(ProgressEvent(tool="vg", config="sofia_001", message="composing", done=3, total=12))

    assert panel.stats_label.text() == "3 of 12"


def test_byte_phase_names():
    hashing = ProgressEvent(tool="do", config="c", message="hashing a.bin", done=1, total=2, unit="bytes", phase="hashing")
    download = ProgressEvent(tool="do", config="c", message="downloading a.bin", unit="bytes")
    copying = ProgressEvent(tool="lm", config="c", message="copying a.safetensors", unit="bytes", phase="copying")
    unknown = ProgressEvent(tool="do", config="c", message="checking a.bin", unit="bytes", phase="checking")
    items = ProgressEvent(tool="vg", config="c", message="reading samples", done=1, total=2)
    mover_items = ProgressEvent(tool="lm", config="c", message="copied a.safetensors", done=1, total=4)

    assert byte_phase(hashing) == PHASE_HASHING
    assert byte_phase(download) == PHASE_DOWNLOADING
    assert byte_phase(copying) == PHASE_COPYING
    assert byte_phase(unknown) == "checking"
    assert byte_phase(items) is None
    assert byte_phase(mover_items) is None


def test_copying_phase_named(qtbot):
    panel = running_panel(qtbot)

    panel.update_progress(
        ProgressEvent(tool="lm", config="sofia_001", message="copying sofia_001-00100.safetensors: 64.1 MiB of 128.0 MiB",
                      done=int(64.1 * 1024**2), total=128 * 1024**2, unit="bytes", phase="copying")
    )

    assert panel.stats_label.text().startswith("Copying to the loras folder: 64.1 MiB of 128.0 MiB")


def test_overall_bar_never_goes_back(qtbot):
    panel = ProgressPanel(show_delay_ms=0)
    qtbot.addWidget(panel)
    panel.begin("Download output", steps=1)
    seen = []

    for done in (0, GIB // 2, GIB):
        panel.update_progress(ProgressEvent(tool="do", config="c", message="hashing w.safetensors", done=done, total=GIB,
                                                   unit="bytes", phase="hashing"))
        seen.append(panel.overall_bar.value())
    for done in (0, GIB // 4, GIB):
        panel.update_progress(
            ProgressEvent(tool="do", config="c", message="downloading w.safetensors", done=done, total=GIB, unit="bytes")
        )
        seen.append(panel.overall_bar.value())

    assert seen == sorted(seen)
    assert seen[2] == int(1000 * HASHING_SHARE)
    assert seen[-1] == 1000


def test_download_without_hashing_fills_step(qtbot):
    panel = ProgressPanel(show_delay_ms=0)
    qtbot.addWidget(panel)
    panel.begin("Download output", steps=2)

    panel.update_progress(
        ProgressEvent(tool="do", config="c", message="downloading a.bin", done=GIB // 2, total=GIB, unit="bytes")
    )

    assert panel.overall_bar.value() == 250
