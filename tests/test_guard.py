"""The determinism guard fails on product code that reaches the world directly."""
import subprocess

import pytest

from conftest import ROOT

GUARD = ROOT / "ci" / "determinism-guard.sh"

OFFENDERS = {
    "time": "#include <time.h>\nlong f(void) { return time(0); }\n",
    "clock_gettime": "#include <time.h>\nlong f(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec; }\n",
    "rand": "#include <stdlib.h>\nint f(void) { return rand(); }\n",
    "socket": "#include <sys/socket.h>\nint f(void) { return socket(AF_INET, SOCK_STREAM, 0); }\n",
    "pthread_create": "#include <pthread.h>\nstatic void *g(void *a) { return a; }\nint f(void) { pthread_t t; return pthread_create(&t, 0, g, 0); }\n",
    "malloc": "#include <stdlib.h>\nvoid *f(void) { return malloc(8); }\n",
}


def compile_obj(tmp_path, name, src):
    c = tmp_path / f"{name}.c"
    c.write_text(src)
    o = tmp_path / f"{name}.o"
    subprocess.run(["cc", "-O2", "-fPIE", "-c", str(c), "-o", str(o)], check=True)
    return o


@pytest.mark.parametrize("func", sorted(OFFENDERS))
def test_guard_rejects_direct_call(tmp_path, func):
    obj = compile_obj(tmp_path, func, OFFENDERS[func])
    p = subprocess.run([str(GUARD), str(obj), "--"], capture_output=True, text=True)
    assert p.returncode != 0
    assert f"calls {func}()" in p.stderr


def test_guard_rejects_writable_global(tmp_path):
    obj = compile_obj(tmp_path, "glob", "static int n;\nint f(void) { return ++n; }\n")
    p = subprocess.run([str(GUARD), str(obj), "--"], capture_output=True, text=True)
    assert p.returncode != 0 and "writable globals: n" in p.stderr


def test_guard_accepts_const_tables_of_pointers(tmp_path):
    src = ("static void g(void) {}\nstruct ops { void (*fn)(void); };\n"
           "static const struct ops t = { g };\nconst struct ops *f(void) { return &t; }\n")
    obj = compile_obj(tmp_path, "ok", src)
    p = subprocess.run([str(GUARD), str(obj), "--"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


def test_harness_may_use_files_but_not_time(tmp_path):
    files = compile_obj(tmp_path, "files", "#include <stdio.h>\nvoid *f(const char *p) { return fopen(p, \"r\"); }\n")
    clock = compile_obj(tmp_path, "clock", OFFENDERS["time"])
    assert subprocess.run([str(GUARD), "--", str(files)], capture_output=True).returncode == 0
    assert subprocess.run([str(GUARD), "--", str(clock)], capture_output=True).returncode != 0


def test_built_product_objects_pass_the_guard():
    """The real tree passes: the same check gates the simulator's link."""
    p = subprocess.run(["make", "-s", "guard"], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
