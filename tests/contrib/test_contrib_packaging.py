"""contrib/ ships in the source archive hatchling builds (``tether-VERSION.tar.gz``), as
docs/grafana.md says, and not in the wheel, which holds the package alone."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

from hatchling.builders.sdist import SdistBuilder
from hatchling.builders.wheel import WheelBuilder

from tests.helpers.contrib_files import ROOT

CONTRIB = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "contrib").rglob("*") if p.is_file())


def test_the_source_archive_holds_every_file_of_contrib(tmp_path: Path) -> None:
    """The sdist has each file of contrib/, byte for byte; the wheel has none of them."""
    assert len(CONTRIB) == 5, CONTRIB
    (sdist,) = SdistBuilder(str(ROOT)).build(directory=str(tmp_path), versions=["standard"])
    with tarfile.open(sdist) as archive:
        top = archive.getnames()[0].split("/")[0]
        for name in CONTRIB:
            member = archive.extractfile(f"{top}/{name}")
            assert member is not None, name
            assert member.read() == (ROOT / name).read_bytes(), name
    (wheel,) = WheelBuilder(str(ROOT)).build(directory=str(tmp_path), versions=["standard"])
    with zipfile.ZipFile(wheel) as archive:
        names = {Path(n).name for n in archive.namelist()}
    assert not names & {Path(name).name for name in CONTRIB}
