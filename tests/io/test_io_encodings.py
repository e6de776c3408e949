"""Text encodings: strict decoding, byte-order marks, and no silent fallback."""

from __future__ import annotations

import pytest

from alliancestats.errors import (
    DataQualityWarning,
    DataValidationError,
    FileFormatError,
    ParameterError,
)
from alliancestats.io import load_sessions, read_table

TEXT = "id;visit;name\n1;1;Müller\n2;1;Øster\n"
KW = {"patient": "id", "session": "visit", "covariates": "name"}


def test_one_latin1_line_in_a_utf8_file_is_refused_with_line_and_byte(tmp_path):
    # used to decode the whole file as cp1252: Müller became "MÃ¼ller" and "Müller"
    data = "id;visit;name\n1;1;Müller\n".encode() + "2;1;Müller\n".encode("latin-1")
    path = tmp_path / "mixed.csv"
    path.write_bytes(data)
    with pytest.raises(FileFormatError, match=r"mixes encodings.*line 3, byte 0xFC") as err:
        load_sessions(path, **KW)
    assert "encoding=" in str(err.value)
    assert isinstance(err.value, DataValidationError)


def test_encoding_argument_decodes_strictly(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(TEXT.encode("latin-1"))
    sd = load_sessions(path, **KW, encoding="latin-1")
    assert sd.data["name"].tolist() == ["Müller", "Øster"]
    with pytest.raises(FileFormatError, match="cannot be decoded as utf-8.*line 2"):
        load_sessions(path, **KW, encoding="utf-8")


def test_unknown_encoding_is_a_parameter_error(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text(TEXT, encoding="utf-8")
    with pytest.raises(ParameterError, match="unknown encoding 'utf-99'"):
        load_sessions(path, **KW, encoding="utf-99")


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_with_a_byte_order_mark_are_read(codec, tmp_path):
    path = tmp_path / "unicode.txt"
    bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}.get(codec, b"")
    path.write_bytes(bom + TEXT.replace(";", "\t").encode(codec))
    sd = load_sessions(path, **KW)
    assert sd.data["name"].tolist() == ["Müller", "Øster"]
    assert read_table(path).delimiter == "\t"


def test_a_file_in_one_windows_encoding_is_read_and_the_guess_is_reported(tmp_path):
    path = tmp_path / "win.csv"
    path.write_bytes(TEXT.encode("cp1252"))
    with pytest.warns(DataQualityWarning, match="not UTF-8: decoded as cp1252"):
        sd = load_sessions(path, **KW)
    assert sd.data["name"].tolist() == ["Müller", "Øster"]
    assert any("decoded as cp1252" in n for n in sd.notes)
    assert "decoded as cp1252" in str(sd.summary())


def test_binary_junk_is_not_read_as_text(tmp_path):
    path = tmp_path / "junk.csv"
    path.write_bytes(b"id,s\x00\x01\x02\x00\xff\x00\x13")
    with pytest.raises(DataValidationError):
        load_sessions(path, patient="id", session="s")
