"""What hides code from the checker: encodings, new syntax, self-extracting payloads, stubs, bundles.

The hidden program is always the TTT001 flagged example, so each test checks that the finding
survives the wrapping, points at the decoded line and says how the code was reached.
"""

import base64
import json
import lzma
import zlib

import pytest

from checks.api import lint_file, lint_source
from checks.rules.ttt import AdaptBeforeScore

ILLEGAL = AdaptBeforeScore.INVALID[0].source()
ILLEGAL_LINE = AdaptBeforeScore.INVALID[0].expected_line


def _raw_lzma(data: bytes) -> bytes:
    return lzma.compress(data, format=lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA2}])


def _brotli(data: bytes) -> bytes:
    brotli = pytest.importorskip("brotli")
    return brotli.compress(data)


WRAPPERS = {
    "b85+raw-lzma2": lambda src: ("import lzma as L, base64 as B\n"
                                   f"exec(L.decompress(B.b85decode({base64.b85encode(_raw_lzma(src.encode())).decode()!r}),"
                                   "format=L.FORMAT_RAW,filters=[{'id':L.FILTER_LZMA2}]))\n"),
    "b64+xz": lambda src: ("import lzma, base64\n"
                            f"exec(lzma.decompress(base64.b64decode({base64.b64encode(lzma.compress(src.encode())).decode()!r})))\n"),
    "b85+zlib": lambda src: ("import zlib, base64\n"
                              f"exec(zlib.decompress(base64.b85decode({base64.b85encode(zlib.compress(src.encode())).decode()!r})).decode())\n"),
    "b85+brotli": lambda src: ("import brotli, base64\n"
                                f"exec(brotli.decompress(base64.b85decode({base64.b85encode(_brotli(src.encode())).decode()!r})))\n"),
    "compile-fake-filename": lambda src: (
        "import lzma, base64, linecache\n"
        f"SRC = lzma.decompress(base64.b85decode({base64.b85encode(lzma.compress(src.encode())).decode()!r})).decode()\n"
        "linecache.cache['<train>'] = (len(SRC), None, SRC.splitlines(True), '<train>')\n"
        "exec(compile(SRC, '<train>', 'exec'))\n"),
    "importlib-module": lambda src: (
        "import importlib.util, lzma, base64, sys\n"
        f"code = lzma.decompress(base64.b85decode({base64.b85encode(lzma.compress(src.encode())).decode()!r}))\n"
        "spec = importlib.util.spec_from_loader('trainer', loader=None)\n"
        "mod = importlib.util.module_from_spec(spec)\n"
        "exec(code, mod.__dict__)\n"),
}


@pytest.mark.parametrize("how", sorted(WRAPPERS))
def test_finding_survives_payload_wrapping(tmp_path, how):
    script = tmp_path / "train_gpt.py"
    script.write_text(WRAPPERS[how](ILLEGAL))
    result = lint_file(script, "train_gpt.py", folder_context=False)
    assert result.verdict == "illegal", result
    hit = next(f for f in result.findings if f.code == "TTT001")
    assert hit.location.line == ILLEGAL_LINE
    assert hit.location.virtual_path == "train_gpt.py::payload[0]"
    assert hit.reached and hit.reached[0].startswith("exec at train_gpt.py:")
    assert "train_gpt.py::payload[0]" in result.units


def test_nested_payload_is_decoded_twice():
    inner = WRAPPERS["b85+zlib"](ILLEGAL)
    outer = WRAPPERS["b64+xz"](inner)
    result = lint_source(outer, "train_gpt.py")
    hit = next(f for f in result.findings if f.code == "TTT001")
    assert hit.location.virtual_path == "train_gpt.py::payload[0]::payload[0]"
    assert len([r for r in hit.reached if r.startswith("exec at")]) == 2


def test_stub_that_execs_a_sibling_brings_it_in(tmp_path):
    (tmp_path / "train_gpt_impl.py").write_text(ILLEGAL)
    (tmp_path / "train_gpt.py").write_text("exec(open(__file__.replace('train_gpt.py', 'train_gpt_impl.py')).read())\n")
    result = lint_file(tmp_path / "train_gpt.py", folder_context=False)
    assert result.verdict == "illegal"
    hit = next(f for f in result.findings if f.code == "TTT001")
    assert hit.location.path.endswith("train_gpt_impl.py") and hit.location.line == ILLEGAL_LINE
    assert hit.reached == ("executed by train_gpt.py",)


def test_bundle_unpacked_into_a_temp_folder(tmp_path):
    files = json.dumps({"train_gpt.py": "import trainer\ntrainer.main()\n", "trainer.py": ILLEGAL})
    blob = base64.b85encode(lzma.compress(files.encode())).decode()
    stub = ("import json, lzma, base64, os, tempfile, runpy\n"
            f"FILES = json.loads(lzma.decompress(base64.b85decode({blob!r})))\n"
            "d = tempfile.mkdtemp()\n"
            "for name, text in FILES.items():\n"
            "    open(os.path.join(d, name), 'w').write(text)\n"
            "runpy.run_path(os.path.join(d, 'train_gpt.py'))\n")
    result = lint_source(stub, "train_gpt.py")
    hit = next(f for f in result.findings if f.code == "TTT001")
    assert hit.location.virtual_path.endswith("::trainer.py") and hit.location.line == ILLEGAL_LINE


def test_corrupt_payload_is_reported_not_passed():
    stub = "import lzma, base64\nexec(lzma.decompress(base64.b85decode('" + "0" * 80 + "')))\n"
    result = lint_source(stub, "train_gpt.py")
    assert [f.code for f in result.findings] == ["HAR002"]
    assert result.findings[0].location.line == 2
    assert result.verdict == "warning"


def test_decompression_bomb_is_capped(monkeypatch):
    import checks.payload as payload

    monkeypatch.setattr(payload, "MAX_DECODED_BYTES", 1 << 16)
    bomb = base64.b85encode(lzma.compress(b"#" * (1 << 20))).decode()
    result = lint_source(f"import lzma, base64\nexec(lzma.decompress(base64.b85decode({bomb!r})))\n", "train_gpt.py")
    assert [f.code for f in result.findings] == ["HAR002"]
    assert "exceeds" in result.findings[0].message


@pytest.mark.parametrize("encode", ["bom", "cp1252-cookie", "latin1-undeclared", "tabs", "crlf"])
def test_odd_encodings_and_whitespace(tmp_path, encode):
    src = ILLEGAL
    if encode == "tabs":
        src = src.replace("    ", "\t")
    if encode == "crlf":
        src = src.replace("\n", "\r\n")
    raw = src.encode("utf-8")
    line_shift = 0
    if encode == "bom":
        raw = b"\xef\xbb\xbf" + raw
    elif encode == "cp1252-cookie":
        raw = "# -*- coding: cp1252 -*-\n# caf\u00e9 \u2013 dash\n".encode("cp1252") + raw
        line_shift = 2
    elif encode == "latin1-undeclared":
        raw = "# na\u00efve\n".encode("latin-1") + raw
        line_shift = 1
    path = tmp_path / "train_gpt.py"
    path.write_bytes(raw)
    result = lint_file(path, folder_context=False)
    assert result.verdict == "illegal"
    assert any(f.code == "TTT001" and f.location.line == ILLEGAL_LINE + line_shift for f in result.findings)


def test_python312_fstrings_parse():
    src = ILLEGAL + 'names = ["a", "b"]\nprint(f"{"-".join(names)} {f"{1+1}"}")\n'
    result = lint_source(src, "train_gpt.py")
    assert result.verdict == "illegal"


def test_unparsable_file_gets_a_reason_not_a_traceback(tmp_path):
    path = tmp_path / "train_gpt.py"
    path.write_text("def f(:\n    pass\n")
    result = lint_file(path, folder_context=False)
    assert result.verdict == "unparsable"
    assert result.reason.startswith("syntax error")
    assert result.findings[0].code == "HAR001" and result.findings[0].location.line == 1


def test_bundle_modules_import_each_other_by_package_path():
    """A multi-file bundle whose validation loader lives in another bundled module of a package
    (``from pkg.data import validation_tokens``): the call is followed into that module."""
    loader = ("import glob\nimport numpy as np\nimport torch\n\n\ndef validation_tokens():\n"
              "    files = sorted(glob.glob('data/fineweb_val_*.bin'))\n"
              "    return torch.from_numpy(np.fromfile(files[0], dtype=np.uint16).astype(np.int64))\n")
    literal = 'val_tokens = load_tokens("data/fineweb_val_*.bin")'
    assert literal in ILLEGAL
    trainer = ILLEGAL.replace(literal, "from pkg.data import validation_tokens\nval_tokens = validation_tokens()")
    files = json.dumps({"pkg/__init__.py": "", "pkg/data.py": loader, "pkg/train.py": trainer})
    blob = base64.b85encode(lzma.compress(files.encode())).decode()
    stub = ("import json, lzma, base64, os, sys, tempfile, runpy\n"
            f"FILES = json.loads(lzma.decompress(base64.b85decode({blob!r})))\n"
            "d = tempfile.mkdtemp()\n"
            "for name, text in FILES.items():\n"
            "    os.makedirs(os.path.dirname(os.path.join(d, name)), exist_ok=True)\n"
            "    open(os.path.join(d, name), 'w').write(text)\n"
            "sys.path.insert(0, d)\n"
            "runpy.run_module('pkg.train', run_name='__main__')\n")
    result = lint_source(stub, "train_gpt.py")
    hit = next((f for f in result.findings if f.code == "TTT001"), None)
    assert hit is not None, [(f.code, f.location.virtual_path) for f in result.findings]
    assert hit.location.virtual_path.endswith("::pkg/train.py") and hit.location.line == ILLEGAL_LINE + 1
