"""A file of expected failures: a listed failure is expected, a listed pass fails the run."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

from tests.conformance.test_suite import CHECKS, conformance

# Big-endian CRC32 texts break these two; the third check selected passes.
BROKEN = ("test_crc32_of_the_spec_example[fw]", "test_crc32_of_the_spec_example[sw]")
PASSING = "test_computed_checksum_text[fw-SHA256]"
SELECTION = ("-k", "spec_example or (computed and fw and SHA256)")


def run(tmp_path: Path, listed: str) -> tuple[int, str, ElementTree.Element]:
    expected = tmp_path / "expected.txt"
    expected.write_text(listed)
    result = conformance(
        *("--start-local", "--expected-failures", str(expected)),
        *("--junitxml", str(tmp_path / "r.xml"), "--", str(CHECKS / "test_checksums.py")),
        *("--local-faults", "crc32_big_endian", *SELECTION),
        cwd=tmp_path,
    )
    suite = ElementTree.parse(tmp_path / "r.xml").getroot().find("testsuite")
    assert suite is not None, result.stdout[-3000:]
    return result.returncode, result.stdout, suite


def test_a_target_passes_when_it_fails_only_what_is_listed(tmp_path: Path) -> None:
    listed = "# a comment\n\n" + "".join(f"{name}  # byte order\n" for name in BROKEN)
    code, out, suite = run(tmp_path, listed)
    assert code == 0, out[-3000:]
    assert suite.get("failures") == "0" and int(suite.get("skipped", "0")) == len(BROKEN)
    assert f"{len(BROKEN)} expected to fail" in out.split("conformance by area")[1]


def test_a_failure_not_listed_still_fails(tmp_path: Path) -> None:
    code, out, _ = run(tmp_path, f"{BROKEN[0]}\n")
    assert code == 1
    assert f"{BROKEN[1]}: [rule checksum.crc32-le §5]" in out.split("conformance by area")[1]


def test_a_listed_check_that_passes_fails_the_run(tmp_path: Path) -> None:
    code, out, _ = run(tmp_path, "".join(f"{name}\n" for name in (*BROKEN, PASSING)))
    assert code == 1
    summary = out.split("conformance by area")[1]
    assert f"{PASSING}: passes now, though listed as an expected failure" in summary


def test_a_line_that_names_no_check_is_refused(tmp_path: Path) -> None:
    expected = tmp_path / "expected.txt"
    expected.write_text("test_computed_checksum_text[fw-CRC32]\ntest_no_such_check\n")
    result = conformance("--url", "http://unused.invalid", "--expected-failures", str(expected))
    assert result.returncode == 4  # pytest's usage error
    assert "line 2: test_no_such_check" in result.stdout + result.stderr


def test_the_docs_example_names_real_checks(tmp_path: Path) -> None:
    text = (Path(__file__).parents[2] / "docs" / "conformance.md").read_text()
    section = text.split("### Expected failures of a target", 1)[1]
    example = section.split("```text\n", 1)[1].split("```", 1)[0]
    assert example.count("# ") >= 2  # reasons after the names
    expected = tmp_path / "expected.txt"
    expected.write_text(example)
    result = conformance(
        "--url", "http://unused.invalid", "--expected-failures", str(expected), "--", "--co"
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
