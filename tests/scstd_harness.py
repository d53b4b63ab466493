"""Running real scstd processes for the tests: free ports, temp dirs, the
admin client, clean and forced stops, network namespaces.

Every helper fails loudly: a server that does not come up raises with its
stderr, a missing client program is an assertion, never a skip."""
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = ROOT / os.environ.get("SCST_BUILD", "build")
BIN = BUILD / "bin"
DEFAULT_TARGET = "iqn.2026-11.local.scstd:ram0"
INITIATOR = "iqn.2026-11.local.tests:initiator"

VALGRIND = ["valgrind", "-q", "--leak-check=full",
            "--show-leak-kinds=definite,indirect,possible",
            "--errors-for-leak-kinds=definite,indirect,possible", "--error-exitcode=99"]


def sanitized_build():
    """True for an ASan build (make asan): valgrind cannot run it, and
    LeakSanitizer makes a leaking scstd exit non-zero by itself."""
    try:
        return b"__asan_init" in (BIN / "scstd").read_bytes()
    except OSError:
        return False


def need(program):
    """The path of a client program; the test fails (not skips) without it."""
    path = shutil.which(program)
    assert path, f"{program} is not installed (make deps installs it)"
    return path


def free_port(host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def two_node_res(tmp_path, disk="tcmu001"):
    """r0.res for hosts alpha and beta on loopback (free ports), volume 0 =
    drbd1 on `disk`; returns its path."""
    res = tmp_path / "r0.res"
    res.write_text(f"""resource r0 {{
    on alpha {{ node-id 0; address 127.0.0.1:{free_port()};
        volume 0 {{ device drbd1 minor 1; disk "{disk}"; meta-disk internal; }} }}
    on beta {{ node-id 1; address 127.0.0.1:{free_port()};
        volume 0 {{ device drbd1 minor 1; disk "{disk}"; meta-disk internal; }} }}
}}
""")
    return res


def port_open(host, port, netns=None):
    if netns:
        p = subprocess.run(["ip", "netns", "exec", netns, "python3", "-c",
                            f"import socket; socket.create_connection(('{host}', {port}), 1)"],
                           capture_output=True)
        return p.returncode == 0
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


class Scstd:
    """One scstd process with its own admin socket, logs and portal."""

    def __init__(self, workdir, args=(), host="127.0.0.1", port=None, name="scstd",
                 netns=None, valgrind=False, portal=True):
        self.dir = pathlib.Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.host = host
        self.port = port or free_port(host if not netns else "127.0.0.1")
        self.admin = str(self.dir / f"{name}.sock")
        self.netns = netns
        self.valgrind = valgrind
        self.args = list(args)
        self.portal = portal
        self.proc = None
        self.out_path = self.dir / f"{name}.out"
        self.err_path = self.dir / f"{name}.err"

    def command(self):
        cmd = [str(BIN / "scstd")]
        if self.portal:
            cmd += ["--portal", f"{self.host}:{self.port}"]
        cmd += ["--admin", self.admin, "--state-dir", str(self.dir / f"{self.name}-state")]
        cmd += self.args
        if self.valgrind and not sanitized_build():
            cmd = VALGRIND + cmd
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns] + cmd
        return cmd

    def start(self, timeout=20):
        self.out = open(self.out_path, "w")
        self.err = open(self.err_path, "w")
        self.proc = subprocess.Popen(self.command(), stdout=self.out, stderr=self.err,
                                     stdin=subprocess.DEVNULL)
        deadline = time.time() + timeout * (5 if self.valgrind else 1)
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited {self.proc.returncode} at start:\n"
                                     f"{self.stderr()}")
            if "iscsi://" in self.stdout() and os.path.exists(self.admin):
                return self
            time.sleep(0.05)
        self.kill()
        raise AssertionError(f"{self.name} did not come up in {timeout}s:\n{self.stderr()}")

    def stdout(self):
        return self.out_path.read_text() if self.out_path.exists() else ""

    def stderr(self):
        return self.err_path.read_text() if self.err_path.exists() else ""

    def url(self, lun=0, target=DEFAULT_TARGET, user=None, secret=None, query=""):
        auth = f"{user}%{secret}@" if user else ""
        return f"iscsi://{auth}{self.host}:{self.port}/{target}/{lun}{query}"

    def ctl(self, *args, check=True, timeout=60):
        p = subprocess.run([str(BIN / "scstctl"), "--admin", self.admin, *map(str, args)],
                           capture_output=True, text=True, timeout=timeout)
        if check:
            assert p.returncode == 0, (f"scstctl {' '.join(map(str, args))} -> {p.returncode}\n"
                                       f"{p.stdout}{p.stderr}")
        return p

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Signal the server and wait; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.name} did not stop within {timeout}s:\n{self.stderr()}")

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        for f in (getattr(self, "out", None), getattr(self, "err", None)):
            if f:
                f.close()


def run(cmd, timeout=120, check=True, netns=None, **kw):
    """Run a client program; with check, a failure shows its output."""
    if netns:
        cmd = ["ip", "netns", "exec", netns] + list(cmd)
    if kw.get("text"):
        kw.setdefault("errors", "replace")  # VPD pages print raw bytes
    p = subprocess.run(list(map(str, cmd)), capture_output=True, timeout=timeout, **kw)
    if check:
        out = p.stdout if isinstance(p.stdout, str) else p.stdout.decode(errors="replace")
        err = p.stderr if isinstance(p.stderr, str) else p.stderr.decode(errors="replace")
        assert p.returncode == 0, f"{' '.join(map(str, cmd))} -> {p.returncode}\n{out}\n{err}"
    return p


def wait_for(predicate, timeout, what, interval=0.1):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def inquiry_ok(url, netns=None):
    p = run([need("iscsi-inq"), "-i", INITIATOR, url], check=False, timeout=30, netns=netns)
    return p.returncode == 0


class NetNs:
    """A network namespace with one address on a veth pair to another."""

    @staticmethod
    def pair(tag):
        a, b = f"scstA{tag}", f"scstB{tag}"
        va, vb = f"vA{tag}", f"vB{tag}"
        for ns in (a, b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        cmds = [["ip", "netns", "add", a], ["ip", "netns", "add", b],
                ["ip", "link", "add", va, "type", "veth", "peer", "name", vb],
                ["ip", "link", "set", va, "netns", a], ["ip", "link", "set", vb, "netns", b],
                ["ip", "-n", a, "addr", "add", "10.77.0.1/24", "dev", va],
                ["ip", "-n", b, "addr", "add", "10.77.0.2/24", "dev", vb],
                ["ip", "-n", a, "link", "set", va, "up"], ["ip", "-n", b, "link", "set", vb, "up"],
                ["ip", "-n", a, "link", "set", "lo", "up"], ["ip", "-n", b, "link", "set", "lo", "up"]]
        for c in cmds:
            run(c, timeout=30)
        return (a, "10.77.0.1"), (b, "10.77.0.2")

    @staticmethod
    def remove(*names):
        for ns in names:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
