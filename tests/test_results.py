"""Result files: strict JSON, records that carry their content's digest, and the note beside each
result of what it was made with (what the workflow compares before any job runs)."""

import json

import pytest

from sparsedp.results import CorruptResult, read_json, read_record, record_made, unmade, write_json, write_record


def test_a_record_carries_its_digest_and_an_edited_one_is_refused(tmp_path):
    path = tmp_path / "trial000.json"
    write_record(path, {"identity": {"trial": 0}, "goals": [{"steps_to_result": 16}]})
    assert read_record(path, "trial")["goals"][0]["steps_to_result"] == 16
    edited = json.loads(path.read_text())
    edited["goals"][0]["steps_to_result"] = 3
    path.write_text(json.dumps(edited))
    with pytest.raises(CorruptResult, match=r"trial000.json: its content differs from its digest"):
        read_record(path, "trial")
    path.write_text(json.dumps({"identity": {"trial": 0}}))  # a record of a version without digests
    with pytest.raises(CorruptResult, match="no identity or digest"):
        read_record(path, "trial")


def test_json_is_strict_both_ways(tmp_path):
    with pytest.raises(ValueError, match=r"x.json: not written: Out of range float values"):
        write_json(tmp_path / "x.json", {"loss": float("nan")})
    assert not (tmp_path / "x.json").exists()
    (tmp_path / "y.json").write_text('{"loss": NaN}')
    with pytest.raises(ValueError, match="NaN is not a JSON number"):
        read_json(tmp_path / "y.json")


def test_what_a_result_was_made_with_and_its_content_are_checked(tmp_path):
    table, missing = tmp_path / "steps.csv", tmp_path / "absent.csv"
    table.write_text("a,b\n1,2\n")
    assert unmade([table], "abc") == [
        (str(table), "no record of what it was made with (made by another version, or copied alone)")
    ]
    record_made([table], "abc")
    assert unmade([table, missing], "abc") == []
    assert unmade([table], "def") == [(str(table), "made with other settings or code than this run's")]
    table.write_text("a,b\n1,3\n")
    assert unmade([table], "abc") == [(str(table), "changed since it was made (edited, damaged or replaced)")]
