"""CSV import on hostile files, through Python, the CLI and HTTP: mixed encodings and binary files are
refused (never stored garbled), duplicate rows are reported, a column of invalid cells creates nothing,
and a large upload is read in bounded memory."""

import io
import json
import os
import re
import subprocess
import sys

import httpx
import pytest

from imagier.errors import InvalidInput
from imagier.server.app import create_app
from live import LiveServer

# Rows alternating UTF-8 and Latin-1, as when two spreadsheets are pasted together.
MIXED = ("path,legend[text]\n".encode() + "retina.jpg,café\n".encode("utf-8") +
         "2019/coffee.jpg,café crème\n".encode("latin-1") + "2020/chelsea.jpg,thé\n".encode("utf-8") +
         "2021/camera.jpg,déjà vu\n".encode("latin-1"))


def imagier(*args):
    return subprocess.run([sys.executable, "-m", "imagier.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def server(imported):
    with LiveServer(create_app(imported)) as live, httpx.Client(base_url=live.url, timeout=60) as client:
        yield client


def post_csv(client, data: bytes, **params):
    return client.post("/api/import-csv", content=data, params=params, headers={"content-type": "text/csv"})


def test_mixed_encodings_are_refused_naming_the_bad_lines(imported, state_of, tmp_path, server):
    before = state_of(imported)
    with pytest.raises(InvalidInput, match=r"not UTF-8 text: line 3, 5 cannot be decoded .*--encoding") as raised:
        imported.import_csv(MIXED)
    assert raised.value.details["lines"] == [3, 5]
    with pytest.raises(InvalidInput, match="line 3, 5"):
        imported.import_csv(MIXED, dry_run=True)

    answer = post_csv(server, MIXED, dry_run="true")
    assert answer.status_code == 400 and answer.json()["lines"] == [3, 5]
    assert "--encoding" in answer.json()["message"]

    (tmp_path / "mixed.csv").write_bytes(MIXED)
    done = imagier("import-csv", imported.path, tmp_path / "mixed.csv")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert re.search(r"Error: .*mixed.csv is not UTF-8 text: line 3, 5 cannot be decoded", done.stderr)
    assert state_of(imported) == before


def test_text_the_browser_decoded_with_losses_is_refused(imported, state_of, server):
    """The page reads a file with File.text(), which puts U+FFFD where bytes are not UTF-8."""
    before = state_of(imported)
    lossy = MIXED.decode("utf-8", errors="replace")
    answer = server.post("/api/import-csv", json={"text": lossy, "dry_run": True})
    assert answer.status_code == 400 and answer.json()["lines"] == [3]
    assert "decoded with losses before it came here: line 3 holds U+FFFD" in answer.json()["message"]
    with pytest.raises(InvalidInput, match="line 3 holds U\\+FFFD"):
        imported.import_csv(io.StringIO(lossy))
    assert state_of(imported) == before
    assert server.post("/api/import-csv", json={"text": "path,legend[text]\nretina.jpg,café\n"}).status_code == 200
    retina = imported.file("retina.jpg")["id"]
    assert imported.values([retina])[retina] == {"legend": "café"}


def test_a_named_encoding_reads_a_latin1_file_right(imported, tmp_path, server):
    latin1 = "path,legend[text]\nretina.jpg,café\n2019/coffee.jpg,crème brûlée\n".encode("latin-1")
    report = imported.import_csv(latin1, encoding="latin-1")
    assert report["encoding"] == "iso8859-1"
    retina, coffee = imported.file("retina.jpg")["id"], imported.file("2019/coffee.jpg")["id"]
    assert imported.values([retina, coffee]) == {retina: {"legend": "café"}, coffee: {"legend": "crème brûlée"}}

    answer = post_csv(server, latin1.replace("café".encode("latin-1"), "thé".encode("cp1252")), encoding="cp1252")
    assert answer.status_code == 200, answer.text
    assert imported.values([retina])[retina] == {"legend": "thé"}
    as_json = server.post("/api/import-csv", params={"encoding": "cp1252"}, json={"text": "path\nretina.jpg\n"})
    assert as_json.status_code == 400 and as_json.json()["parameter"] == "encoding"

    wide = "path,legend[text]\nretina.jpg,ünïcode\n".encode("utf-16")  # Excel's "Unicode text"
    assert imported.import_csv(io.BytesIO(wide), encoding="utf-16")["encoding"] == "utf-16"
    assert imported.values([retina])[retina] == {"legend": "ünïcode"}

    (tmp_path / "win.csv").write_bytes("path,legend[text]\nretina.jpg,œuvre\n".encode("cp1252"))
    done = imagier("import-csv", imported.path, tmp_path / "win.csv", "--encoding", "cp1252", "--json")
    assert done.returncode == 0, done.stderr
    assert imported.values([retina])[retina] == {"legend": "œuvre"}
    assert "unknown encoding 'klingon'" in imagier("import-csv", imported.path, tmp_path / "win.csv",
                                                   "--encoding", "klingon").stderr


def test_a_text_stream_that_cannot_seek_is_read_as_the_text_it_is(imported, tmp_path):
    """Text already decoded (a pipe opened as text, say stdin) keeps its characters, whatever `encoding`
    names: the encoding is that of bytes, and these are no longer bytes."""
    path = tmp_path / "cp1252.csv"
    path.write_bytes("path,legend[text]\nretina.jpg,œuvre café\n".encode("cp1252"))
    read, write = os.pipe()
    with open(write, "wb") as sink:
        sink.write(path.read_bytes())
    with open(read, encoding="cp1252", newline="") as piped:
        assert not piped.seekable()
        imported.import_csv(piped, encoding="cp1252")
    retina = imported.file("retina.jpg")["id"]
    assert imported.values([retina])[retina] == {"legend": "œuvre café"}


def test_utf8_with_or_without_a_byte_order_mark_needs_no_encoding(imported):
    for data in ("path,legend[text]\nretina.jpg,naïve\n".encode("utf-8"),
                 "path,legend[text]\nretina.jpg,naïve\n".encode("utf-8-sig")):
        assert imported.import_csv(data)["encoding"] == "UTF-8"
        retina = imported.file("retina.jpg")["id"]
        assert imported.values([retina])[retina] == {"legend": "naïve"}


def test_a_photograph_given_as_csv_is_a_clean_error(imported, photo_dir, state_of, server):
    before = state_of(imported)
    jpeg = photo_dir / "2019" / "astronaut.jpg"
    with pytest.raises(InvalidInput, match="astronaut.jpg is not UTF-8 text: line 1"):
        imported.import_csv(jpeg)
    with pytest.raises(InvalidInput, match="holds NUL bytes"):
        imported.import_csv(jpeg, encoding="latin-1")  # every byte is Latin-1: the NUL bytes give it away
    answer = post_csv(server, jpeg.read_bytes())
    assert answer.status_code == 400 and answer.json()["error"] == "InvalidInput"
    done = imagier("import-csv", imported.path, jpeg)
    assert done.returncode == 1 and "Traceback" not in done.stderr and "is not UTF-8 text" in done.stderr
    assert state_of(imported) == before


def test_a_cell_too_large_for_a_csv_reader_is_a_clean_error(imported, state_of, server):
    text = "path,legend[text]\nretina.jpg,short\n2019/coffee.jpg," + "x" * 200_000 + "\n"
    before = state_of(imported)
    with pytest.raises(InvalidInput, match="cannot be read as CSV at line 3: field larger than field limit"):
        imported.import_csv(text.encode())
    answer = post_csv(server, text.encode(), dry_run="true")
    assert answer.status_code == 400 and answer.json()["error"] == "InvalidInput"
    assert state_of(imported) == before


def test_duplicate_rows_are_reported_and_the_last_one_wins(imported, tmp_path, server):
    text = ("path,legend[text]\nretina.jpg,first\n2019/coffee.jpg,coffee\n"
            "retina.jpg,second\n2020/chelsea.jpg,cat\nretina.jpg,third\n")
    dry = imported.import_csv(io.StringIO(text), dry_run=True)
    assert dry["duplicates"] == 2
    assert dry["duplicate_rows"] == [{"row": 4, "key": "retina.jpg", "same_image_as_row": 2},
                                     {"row": 6, "key": "retina.jpg", "same_image_as_row": 2}]
    retina = imported.file("retina.jpg")["id"]

    answer = post_csv(server, text.encode(), dry_run="true")
    assert answer.json()["duplicate_rows"] == dry["duplicate_rows"]
    (tmp_path / "dup.csv").write_text(text)
    done = imagier("import-csv", imported.path, tmp_path / "dup.csv")
    assert done.returncode == 0, done.stderr
    assert "2 rows repeat an image of an earlier row (the last one wins)" in done.stdout
    assert imported.values([retina])[retina] == {"legend": "third"}

    report = imported.import_csv(io.StringIO(text.replace("third", "fourth")))
    assert report["duplicates"] == 2 and not report["dry_run"]
    assert imported.values([retina])[retina] == {"legend": "fourth"}


def test_skip_invalid_creates_no_property_none_of_whose_cells_is_valid(imported, state_of, tmp_path, server):
    text = "path,score[number],when[date],note[text]\nretina.jpg,high,soon,\n2019/coffee.jpg,low,,\n"
    before = state_of(imported)
    dry = imported.import_csv(io.StringIO(text), dry_run=True, skip_invalid=True)
    assert dry["invalid_cells"] == 3 and dry["created_properties"] == ["note"]  # an empty column is kept
    report = imported.import_csv(io.StringIO(text), skip_invalid=True)
    assert report["created_properties"] == ["note"] and report["cells"] == 0
    assert [p["name"] for p in imported.properties() if not p["builtin"]] == ["note"]
    imported.undo()
    assert state_of(imported) == {**before, "ops": state_of(imported)["ops"]}

    only_invalid = "path,score[number]\nretina.jpg,high\n"
    answer = post_csv(server, only_invalid.encode(), skip_invalid="true")
    assert answer.status_code == 200 and answer.json()["created_properties"] == []
    (tmp_path / "bad.csv").write_text(only_invalid)
    done = imagier("import-csv", imported.path, tmp_path / "bad.csv", "--skip-invalid", "--json")
    assert json.loads(done.stdout)["created_properties"] == []
    assert [p["name"] for p in imported.properties() if not p["builtin"]] == []


def test_a_valid_cell_still_creates_its_property_with_skip_invalid(imported):
    report = imported.import_csv(io.StringIO("path,score[number]\nretina.jpg,high\n2019/coffee.jpg,3\n"),
                                 skip_invalid=True)
    assert report["created_properties"] == ["score"] and report["cells"] == 1
    coffee = imported.file("2019/coffee.jpg")["id"]
    assert imported.values([coffee])[coffee] == {"score": 3}


def test_a_large_import_writes_every_row_in_chunks(imported):
    # More rows than one chunk of writes: each row gives the image the number of its row, so the last wins.
    paths = [f["path"] for f in imported.files(range(1, 100))]
    rows = [f"{paths[i % len(paths)]},{i}" for i in range(12_000)]
    report = imported.import_csv(("path,n[number]\n" + "\n".join(rows) + "\n").encode())
    assert report["rows"] == 12_000 and report["duplicates"] == 12_000 - len(paths)
    assert len(report["duplicate_rows"]) == 1000  # listed up to a limit; the count covers them all
    ids = {f["path"]: f["id"] for f in imported.files(range(1, 100))}
    last = {paths[i % len(paths)]: i for i in range(12_000)}
    assert imported.values(ids.values()) == {ids[p]: {"n": n} for p, n in last.items()}
    assert [op["kind"] for op in imported.history()[:2]] == ["import_csv", "import"]


# ---- memory -------------------------------------------------------------------------------------------

CSV_MB = 20


def write_big_csv(path, photo_paths, megabytes: int) -> int:
    """A CSV of `megabytes` naming the project's photographs over and over, with a text and a number."""
    line_count = 0
    with open(path, "w", encoding="utf-8") as f:
        f.write("path,legend[text],n[number]\n")
        while f.tell() < megabytes * 1_000_000:
            f.writelines(f"{photo_paths[i % len(photo_paths)]},a legend of some length {i},{i}\n"
                         for i in range(line_count, line_count + 10_000))
            line_count += 10_000
    return line_count


def peak_rss_mb(*args) -> float:
    """The peak resident memory of `imagier ARGS`, run as a process of its own."""
    script = ("import resource, subprocess, sys; done = subprocess.run(sys.argv[1:], capture_output=True); "
              "assert done.returncode == 0, done.stderr.decode(); "
              "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    done = subprocess.run([sys.executable, "-c", script, sys.executable, "-m", "imagier.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return int(done.stdout) / 1024


def test_a_large_csv_is_read_in_bounded_memory(imported, tmp_path):
    paths = [f["path"] for f in imported.files(range(1, 100))]
    small, big = tmp_path / "small.csv", tmp_path / "big.csv"
    write_big_csv(small, paths, 0)
    rows = write_big_csv(big, paths, CSV_MB)
    imported.close()
    baseline = peak_rss_mb("import-csv", imported.path, small, "--dry-run")
    peak = peak_rss_mb("import-csv", imported.path, big, "--dry-run")
    assert peak - baseline < CSV_MB, f"{CSV_MB} MB of CSV ({rows} rows) took {peak - baseline:.0f} MB more memory"


def test_an_upload_is_streamed_to_disk_not_held_in_memory(imported, tmp_path):
    """The server's peak memory (VmHWM) hardly moves while a large CSV is uploaded and checked."""
    paths = [f["path"] for f in imported.files(range(1, 100))]
    big = tmp_path / "big.csv"
    rows = write_big_csv(big, paths, CSV_MB)
    imported.close()
    server = subprocess.Popen([sys.executable, "-m", "imagier.cli", "serve", str(imported.path), "--port", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = re.search(r"at (http://\S+)", server.stdout.readline())[1]
        with httpx.Client(base_url=url, timeout=300) as client:
            assert client.post("/api/import-csv", content=b"path,n[number]\nretina.jpg,1\n",
                               params={"dry_run": "true"}, headers={"content-type": "text/csv"}).status_code == 200
            before = peak_memory_mb(server.pid)
            with open(big, "rb") as f:
                answer = client.post("/api/import-csv", content=f, params={"dry_run": "true"},
                                     headers={"content-type": "text/csv"})
            assert answer.status_code == 200 and answer.json()["rows"] == rows
            growth = peak_memory_mb(server.pid) - before
        assert growth < CSV_MB, f"an upload of {CSV_MB} MB raised the server's peak memory by {growth:.0f} MB"
    finally:
        server.terminate()
        server.wait(15)


def peak_memory_mb(pid: int) -> float:
    status = open(f"/proc/{pid}/status").read()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status)[1]) / 1024
