"""The gate remembers its verdict: unchanged data is not validated twice, and TFDV and Beam are not even imported.

Driven through ``python -m scripts.train`` on a small generated image folder: the first run
validates, the second (a fresh model_dir) recalls the verdict, and a changed file or a
changed gate setting validates again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from support import cats_and_dogs, run_script

from pipeline import digest_memo, gate_cache

pytestmark = pytest.mark.medium

RECALLED = "(unchanged since validated: same file contents, schema and settings; TFDV not run)"


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    return cats_and_dogs(tmp_path_factory.mktemp("gate_cache_images"), 8, 0)


def _train(images: Path, cache: Path, model_dir: Path, *extra: str, importtime: bool = False):
    result = _run(images, cache, model_dir, *extra, importtime=importtime)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _imported(stderr: str) -> set[str]:
    """Top-level packages in ``python -X importtime``'s report (``import time: self | cumulative | name``)."""
    names = (line.rsplit("|", 1)[-1].strip() for line in stderr.splitlines() if line.startswith("import time:"))
    return {name.split(".")[0] for name in names}


def test_unchanged_data_is_recalled_without_tfdv_and_a_change_validates_again(images, tmp_path):
    cache = tmp_path / "cache"
    first = _train(images, cache, tmp_path / "first")
    assert "validating span 0" in first.stdout and RECALLED not in first.stdout

    # A fresh model_dir on the same files: the verdict and its artifacts, TFDV and Beam never loaded.
    again = _train(images, cache, tmp_path / "again", importtime=True)
    assert "validation: 16 examples clean " + RECALLED in again.stdout, again.stdout
    imported = _imported(again.stderr)
    assert "tensorflow" in imported  # the report is real
    assert not imported & {"tensorflow_data_validation", "apache_beam", "tfx_bsl"}, imported
    span = tmp_path / "again" / "validation" / "spans" / "span-0"
    assert (span / "report.html").is_file() and (span / "statistics.pb").is_file()

    # A gate setting the verdict depends on: validated again.
    stricter = _train(images, cache, tmp_path / "stricter", "--max_bad_record_fraction=0.01")
    assert "validating span 0" in stricter.stdout and RECALLED not in stricter.stdout

    # The same bytes written again (a new modification time, as a fresh copy has): still recalled.
    target = images / "dog" / "0.png"
    target.write_bytes(target.read_bytes())
    os.utime(target, ns=(target.stat().st_atime_ns, target.stat().st_mtime_ns + 10**9))
    assert RECALLED in _train(images, cache, tmp_path / "copied").stdout

    # One file rewritten with new bytes (another image): validated again, then remembered anew.
    from PIL import Image

    Image.fromarray(np.full((8, 8, 3), 200, np.uint8)).save(target)
    changed = _train(images, cache, tmp_path / "changed")
    assert "validating span 0" in changed.stdout and RECALLED not in changed.stdout
    assert RECALLED in _train(images, cache, tmp_path / "changed_again").stdout


# --- the same bytes, or no recall --------------------------------------------------------------

WARNED = "warning: --gate_cache_dir: ignoring the remembered verdict"


def _run(images: Path, cache: Path, model_dir: Path, *extra: str, importtime: bool = False):
    args = [f"--image_dir={images}", "--source=image_folder", "--image_size=8", f"--model_dir={model_dir}"]
    args += ["--train_steps=2", "--noreport", "--eval_throttle_secs=0", f"--gate_cache_dir={cache}", *extra]
    return run_script("scripts.train", *args, python_args=("-X", "importtime") if importtime else ())


@pytest.fixture
def own_images(images, tmp_path) -> Path:
    """A copy of the image tree this test may change."""
    return Path(shutil.copytree(images, tmp_path / "images"))


def _settled(folder: Path) -> None:
    """Waits (at most the racy window) until every file under ``folder`` last changed before it.

    Entries hashed within digest_memo.RACY_NS of their last change are racy and read again
    anyway: without this wait a test of the memo's key could pass without the memo.
    """
    newest = max(max(p.stat().st_mtime_ns, p.stat().st_ctime_ns) for p in folder.rglob("*"))
    time.sleep(max(0.0, (newest + digest_memo.RACY_NS) / 1e9 - time.time() + 0.2))


def _memo(cache: Path) -> dict:
    (path,) = [p for p in cache.glob("digests-*.json") if not p.name.endswith(".key.json")]
    return json.loads(path.read_text())


def test_a_file_changed_with_its_size_and_mtime_kept_is_validated_again_and_refused(own_images, tmp_path):
    cache = tmp_path / "cache"
    _settled(own_images)
    assert _run(own_images, cache, tmp_path / "first").returncode == 0
    # The memo holds the file, settled: only its ctime stands between the change below and a recall.
    target = own_images / "dog" / "0.png"
    memo, st = _memo(cache), target.stat()
    size, mtime, _, ino, dev, _ = memo["files"][str(target)]
    assert (size, mtime, ino, dev) == (st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)
    assert max(st.st_mtime_ns, st.st_ctime_ns) < memo["started_ns"] - digest_memo.RACY_NS
    # New bytes, same size, and the old modification time put back (touch -r, rsync -t, gsutil cp -p):
    # the PNG's pixel data zeroed, so its CRC no longer holds and it is a corrupt PNG (1 of 16: over 5%).
    # Only its ctime moves (the kernel's, which no tool can put back): the memo reads it again.
    data, times = target.read_bytes(), target.stat()
    start = data.index(b"IDAT") + 4
    target.write_bytes(data[:start] + bytes(len(data) - start - 16) + data[-16:])
    os.utime(target, ns=(times.st_atime_ns, times.st_mtime_ns))
    assert target.stat().st_size == times.st_size and target.stat().st_mtime_ns == times.st_mtime_ns
    # --nocheck_images: the trainer's own decode check (which would refuse first) is off; the gate decides.
    forged = _run(own_images, cache, tmp_path / "forged", "--nocheck_images")
    assert forged.returncode == 3, forged.stdout[-2000:] + forged.stderr[-2000:]
    assert RECALLED not in forged.stdout and "validating span 0" in forged.stdout
    assert "REFUSED" in forged.stdout and "dog/0.png" in forged.stdout
    assert not (tmp_path / "forged" / "export").exists()  # no training after a refusal


def _entry(cache: Path) -> Path:
    (entry,) = [p for p in cache.iterdir() if (p / gate_cache.ENTRY_FILE).is_file()]
    return entry / gate_cache.ENTRY_FILE


@pytest.mark.parametrize(
    "forged",
    # The refusal forged with the right count and key: only its verdict gives it away.
    ["[]", '{"examples": 16, "verdict": "REFUSED: everything"}'],
    ids=["a list", "a refused verdict"],
)
def test_a_malformed_or_refused_entry_is_ignored_with_one_warning_and_validated_afresh(images, tmp_path, forged):
    cache = tmp_path / "cache"
    assert _run(images, cache, tmp_path / "first").returncode == 0
    entry = _entry(cache)
    recorded = json.loads(entry.read_text())
    text = forged if forged == "[]" else json.dumps({**json.loads(forged), "key": recorded["key"]})
    entry.write_text(text)
    again = _run(images, cache, tmp_path / "again")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Traceback" not in again.stderr
    assert not [line for line in again.stdout.splitlines() if line.startswith("validation:") and "REFUSED" in line]
    warnings = [line for line in again.stdout.splitlines() if line.startswith(WARNED)]
    assert len(warnings) == 1 and str(entry) in warnings[0], again.stdout
    assert RECALLED not in again.stdout and "validation: 16 examples clean; report" in again.stdout
    assert json.loads(entry.read_text())["verdict"] == "clean"  # validated afresh, remembered anew


@pytest.mark.parametrize(
    "text, why",
    [
        ("[]", "not an object: list"),
        ("{}", "'examples' is None, not a count"),
        ('{"examples": "lots", "verdict": "clean"}', "'examples' is 'lots', not a count"),
        ('{"examples": true, "verdict": "clean"}', "'examples' is True, not a count"),
        ('{"examples": 16, "verdict": "REFUSED: everything"}', "only a verdict that let the data through"),
        ('{"examples": 16, "verdict": "clean", "key": "another"}', "written for another key"),
        ('{"examples": 99999, "verdict": "clean", "key": "KEY"}', "99999 examples, unlike its span's result.json"),
        ('{"examples": 16, "verd', "does not read as JSON"),
    ],
)
def test_every_kind_of_bad_entry_is_named_and_not_believed(tmp_path, text, why):
    entry = tmp_path / "KEY"
    (entry / gate_cache.SPAN_COPY).mkdir(parents=True)
    result = {"passed": True, "num_examples": {"data": 16}}
    (entry / gate_cache.SPAN_COPY / gate_cache.RESULT_FILE).write_text(json.dumps(result))
    (entry / gate_cache.ENTRY_FILE).write_text(text)
    said = []
    assert gate_cache.lookup(str(tmp_path), "KEY", said.append) is None
    assert len(said) == 1 and why in said[0] and said[0].startswith(WARNED), said
    # The same entry, well formed: believed.
    (entry / gate_cache.ENTRY_FILE).write_text('{"examples": 16, "verdict": "clean", "key": "KEY"}')
    assert gate_cache.lookup(str(tmp_path), "KEY", said.append).examples == 16 and len(said) == 1


def test_editing_the_curated_schema_invalidates_the_recalled_verdict(images, tmp_path):
    cache, model_dir = tmp_path / "cache", tmp_path / "model"
    assert _run(images, cache, model_dir).returncode == 0  # validated; the schema is inferred
    assert _run(images, cache, model_dir).returncode == 0  # validated against the schema now there
    recalled = _run(images, cache, model_dir)
    assert recalled.returncode == 0 and RECALLED in recalled.stdout, recalled.stdout
    # The curated schema edited: "dog" is no longer an allowed label.
    schema = model_dir / "validation" / "schema.pbtxt"
    text = schema.read_text()
    assert '  value: "dog"\n' in text, text
    schema.write_text(text.replace('  value: "dog"\n', "", 1))
    edited = _run(images, cache, model_dir)
    assert RECALLED not in edited.stdout, edited.stdout
    assert edited.returncode == 3 and "REFUSED" in edited.stdout, edited.stdout[-2000:] + edited.stderr[-2000:]


# --- the digest memo: stat identity, or a read ----------------------------------------------------

MEMO_WARNED = "warning: --gate_cache_dir: ignoring the digest memo"


def _key_with(path: Path, content: bytes) -> str:
    """data_fingerprint's key for a folder holding the one file ``path`` whose digest is ``content``."""
    return hashlib.sha256(os.fsencode(str(path)) + b"\0\0" + content).hexdigest()[:32]


def _forge(memo_dir: Path, files: tuple[str, ...], started_ns: int, entries: dict) -> Path:
    path = Path(digest_memo.memo_path(str(memo_dir), files))
    path.write_text(json.dumps({"version": digest_memo.VERSION, "started_ns": started_ns, "files": entries}))
    return path


def _identity(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


@pytest.fixture
def one_file(tmp_path) -> tuple[Path, tuple[str, ...], Path]:
    data = tmp_path / "data"
    data.mkdir()
    (data / "rows.csv").write_text("x,label\n1,0\n")
    return data / "rows.csv", (str(data),), tmp_path / "cache"


def test_a_memo_hit_reads_no_file_and_a_moved_ctime_reads_it_again(one_file):
    file, files, cache = one_file
    real = gate_cache.data_fingerprint(files, str(cache))
    assert real == _key_with(file, hashlib.sha256(file.read_bytes()).digest())
    # An entry with the file's exact stat identity and a wrong digest, hashed "later" than any change
    # (and no whole-data key, so the entry is looked up): the key is built from the forged digest,
    # so the file was not read.
    forged = "ab" * 32
    memo = _forge(cache, files, time.time_ns() + 10**10, {str(file): [*_identity(file), forged]})
    Path(digest_memo.key_path(str(memo))).unlink()
    assert gate_cache.data_fingerprint(files, str(cache)) == _key_with(file, bytes.fromhex(forged)) != real
    # The whole-data key it wrote, forged the same way: believed as well, without a read.
    key_file = Path(digest_memo.key_path(str(memo)))
    recorded = json.loads(key_file.read_text())
    key_file.write_text(json.dumps({**recorded, "data_key": "cd" * 16, "started_ns": time.time_ns() + 10**10}))
    assert gate_cache.data_fingerprint(files, str(cache)) == "cd" * 16
    # os.utime with the same times moves only the ctime (past the kernel's timestamp tick): read again.
    st = file.stat()
    time.sleep(0.05)
    os.utime(file, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert file.stat().st_mtime_ns == st.st_mtime_ns and file.stat().st_ctime_ns != st.st_ctime_ns
    assert gate_cache.data_fingerprint(files, str(cache)) == real
    digest = hashlib.sha256(file.read_bytes()).hexdigest()
    assert json.loads(memo.read_text())["files"][str(file)] == [*_identity(file), digest]
    assert json.loads(key_file.read_text())["data_key"] == real


def test_a_racy_entry_is_read_again(one_file):
    file, files, cache = one_file
    real = gate_cache.data_fingerprint(files, str(cache))
    # Hashed within the racy window of the file's last change: the same tick could hide a later write.
    racy = file.stat().st_ctime_ns + digest_memo.RACY_NS
    memo = _forge(cache, files, racy, {str(file): [*_identity(file), "ab" * 32]})
    key_file = Path(digest_memo.key_path(str(memo)))
    key_file.write_text(json.dumps({**json.loads(key_file.read_text()), "data_key": "cd" * 16, "started_ns": racy}))
    assert gate_cache.data_fingerprint(files, str(cache)) == real


@pytest.mark.parametrize("blank", ["st_ino", "st_ctime_ns"])
def test_a_stat_without_an_inode_or_a_ctime_gives_no_whole_data_key_and_its_file_is_read(one_file, blank):
    file, files, cache = one_file
    st = file.stat()
    extra = {"st_atime_ns": st.st_atime_ns, "st_mtime_ns": st.st_mtime_ns, "st_ctime_ns": st.st_ctime_ns}
    fields = list(st)
    if blank == "st_ino":
        fields[1] = 0  # st_ino's place in the stat tuple
    else:
        extra["st_ctime_ns"] = 0
    # What a filesystem without inodes or ctimes gives: such a file's identity proves nothing.
    no_identity = os.stat_result(fields, extra)
    assert digest_memo.identities_digest([(str(file), "", st)]) is not None
    assert digest_memo.identities_digest([(str(file), "", no_identity)]) is None
    # A settled entry recorded under that very stat, zero and all: still not believed, the file is read.
    blank_identity = [
        no_identity.st_size,
        no_identity.st_mtime_ns,
        no_identity.st_ctime_ns,
        no_identity.st_ino,
        st.st_dev,
    ]
    cache.mkdir()
    _forge(cache, files, time.time_ns() + 10**10, {str(file): [*blank_identity, "ab" * 32]})
    memo = digest_memo.DigestMemo(digest_memo.memo_path(str(cache), files))
    reads = []
    digest = memo.digest(str(file), no_identity, lambda path: reads.append(path) or b"read")
    assert (digest, reads) == (b"read", [str(file)])


@pytest.mark.parametrize(
    "name, text",
    [
        ("digests", "[]"),
        ("digests", '{"version": 1, "started_ns": 0, "fil'),
        ("digests", '{"version": 1, "started_ns": "then", "files": {}}'),
        ("digests", '{"version": 1, "started_ns": 0, "files": {"FILE": [1, 2, 3, 4, 5, "not a sha256"]}}'),
        ("digests", '{"version": 1, "started_ns": 0, "files": {"FILE": [1, 2, 3, 4, "5", "%s"]}}' % ("ab" * 32)),
        ("key", '{"version": 1, "started_ns": 0, "newest_ns": 0, "identities": "x", "data_key": "y"}'),
        ("key", "{"),
    ],
    ids=["a list", "torn JSON", "a bad time", "a bad digest", "a bad stat field", "a bad key", "a torn key"],
)
def test_a_malformed_memo_is_ignored_with_one_warning_and_every_file_is_read(one_file, name, text):
    file, files, cache = one_file
    real = gate_cache.data_fingerprint(files, str(cache))
    memo = Path(digest_memo.memo_path(str(cache), files))
    key_file = Path(digest_memo.key_path(str(memo)))
    if name == "digests":
        key_file.unlink()  # else the whole-data key answers without the per-file memo
    bad = memo if name == "digests" else key_file
    bad.write_text(text.replace("FILE", str(file)))
    said = []
    assert gate_cache.data_fingerprint(files, str(cache), said.append) == real
    assert len(said) == 1 and said[0].startswith(MEMO_WARNED) and str(bad) in said[0], said
    assert json.loads(memo.read_text())["files"][str(file)][5] == hashlib.sha256(file.read_bytes()).hexdigest()
    assert json.loads(key_file.read_text())["data_key"] == real
