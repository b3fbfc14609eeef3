#!/usr/bin/env python3
"""Detects the PsExec true positive with shareexec's C API from Python (ctypes).

    cargo build --release -p shareexec-ffi
    python3 examples/python/detect.py [FILE.ndjson] [--lib target/release/libshareexec.so]

Feeds each NDJSON line, prints every alert as ECS JSON, and exits 1 if there was none.
"""
import argparse
import ctypes as C
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


class Str(C.Structure):  # shareexec_str
    _fields_ = [("ptr", C.c_char_p), ("len", C.c_size_t)]

    def text(self):
        return None if self.ptr is None else C.string_at(self.ptr, self.len).decode()


class Origin(C.Structure):  # shareexec_origin
    _fields_ = [("timestamp_ns", C.c_int64), ("has_sequence", C.c_uint8), ("sequence", C.c_uint64),
                ("id", Str), ("position", C.c_uint64)]


class Signature(C.Structure):  # shareexec_signature
    _fields_ = [("has_exists", C.c_uint8), ("exists", C.c_uint8), ("has_trusted", C.c_uint8),
                ("trusted", C.c_uint8), ("subject_name", Str), ("status", Str)]


class Hashes(C.Structure):  # shareexec_hashes
    _fields_ = [("sha256", Str), ("sha1", Str), ("md5", Str)]


class Verdict(C.Structure):  # shareexec_verdict: field for field, in order
    _fields_ = [("kind", C.c_uint32), ("host_id", Str), ("alert_id", C.c_uint64), ("path", Str),
                ("executable", Str), ("write", Origin), ("execution", Origin), ("has_pid", C.c_uint8),
                ("pid", C.c_int64), ("code_signature", Signature), ("file_hash", Hashes),
                ("process_hash", Hashes), ("span_ns", C.c_int64), ("reason", Str),
                ("late_stage", C.c_uint32), ("late_event", Origin), ("late_behind_ns", C.c_int64)]


OK, BUFFER_TOO_SMALL, VERDICT_ALERT = 0, 5, 1


def load(path):
    lib = C.CDLL(str(path))
    lib.shareexec_version.restype = C.c_char_p
    lib.shareexec_result_describe.restype = C.c_char_p
    lib.shareexec_result_describe.argtypes = [C.c_uint32]
    lib.shareexec_detector_new.argtypes = [C.c_void_p, C.POINTER(C.c_void_p)]
    lib.shareexec_detector_free.argtypes = [C.c_void_p]
    lib.shareexec_detector_free.restype = None
    lib.shareexec_detector_last_error.argtypes = [C.c_void_p]
    lib.shareexec_detector_last_error.restype = C.c_char_p
    lib.shareexec_detector_feed_json.argtypes = [C.c_void_p, C.c_char_p, C.c_size_t, C.c_uint64]
    lib.shareexec_detector_flush.argtypes = [C.c_void_p]
    lib.shareexec_detector_poll.argtypes = [C.c_void_p, C.POINTER(Verdict)]
    lib.shareexec_detector_verdict_json.argtypes = [C.c_void_p, C.c_char_p, C.c_size_t,
                                                    C.POINTER(C.c_size_t)]
    for f in ("new", "feed_json", "flush", "poll", "verdict_json"):
        getattr(lib, "shareexec_detector_" + f).restype = C.c_uint32
    return lib


def alerts(lib, d):
    """Polls every verdict; yields each alert's ECS JSON."""
    v = Verdict()
    while lib.shareexec_detector_poll(d, C.byref(v)) == OK:
        if v.kind != VERDICT_ALERT:
            continue
        n = C.c_size_t(0)
        rc = lib.shareexec_detector_verdict_json(d, None, 0, C.byref(n))  # ask the size
        assert rc == BUFFER_TOO_SMALL, lib.shareexec_result_describe(rc)
        buf = C.create_string_buffer(n.value + 1)
        rc = lib.shareexec_detector_verdict_json(d, buf, len(buf), C.byref(n))
        assert rc == OK, lib.shareexec_result_describe(rc)
        print(f"alert on {v.host_id.text()}: {v.path.text()} ran {v.span_ns / 1e6:.0f} ms after the SMB write",
              file=sys.stderr)
        yield buf.value.decode()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file", nargs="?", default=ROOT / "tests/fixtures/tp/psexec-defend.ndjson")
    ap.add_argument("--lib", default=ROOT / "target/release/libshareexec.so")
    args = ap.parse_args()
    lib = load(args.lib)
    d = C.c_void_p()
    rc = lib.shareexec_detector_new(None, C.byref(d))  # NULL config: the defaults
    if rc != OK:
        sys.exit(f"shareexec_detector_new: {lib.shareexec_result_describe(rc).decode()}")
    found = 0
    try:
        with open(args.file, "rb") as f:
            for n, line in enumerate(f, start=1):
                rc = lib.shareexec_detector_feed_json(d, line, len(line), n)
                if rc != OK:
                    print(f"line {n}: {lib.shareexec_detector_last_error(d).decode()}", file=sys.stderr)
                for a in alerts(lib, d):
                    print(a)
                    found += 1
        lib.shareexec_detector_flush(d)  # end of input
        for a in alerts(lib, d):
            print(a)
            found += 1
    finally:
        lib.shareexec_detector_free(d)
    print(f"shareexec {lib.shareexec_version().decode()}: {found} alert(s)", file=sys.stderr)
    sys.exit(0 if found else 1)


if __name__ == "__main__":
    main()
