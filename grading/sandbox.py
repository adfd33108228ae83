"""Run one submitted notebook in isolation and return what it answered.

:func:`run_submission` (the grader's side) never executes the submission itself. It

1. reads the file as untrusted text: not valid JSON, or not a notebook, is reported and
   nothing runs;
2. copies the notebook and the student package ``symcourse`` into a fresh temporary folder
   (the submission's own copy; the submissions folder is only ever read);
3. starts this file as a worker process in a new session, with a minimal environment (``HOME``,
   caches and the working directory inside the temporary folder), resource limits
   (``resource.setrlimit``: private writable memory, CPU time, file size) inherited by the kernel, and a
   wall-clock limit after which the whole process group is killed;
4. where Linux allows unprivileged user namespaces, starts the worker through ``unshare``
   (new user, mount, PID and network namespaces: no network but loopback): the worker mounts an empty tmpfs over the
   instructor's folders (the repository with the key, the submissions and output folders,
   the home folder), keeping only the Python installation visible there, then remounts every
   file system read-only except its own temporary folder; every process the submission
   starts dies with the worker.

The worker (``python grading/sandbox.py SPEC``) runs the notebook with nbclient, behind the
recorder cell of :mod:`grading.record`, and prints one JSON line: the recorded answers,
errors per cell, and whether it stopped early (time limit, dead kernel).
"""
from __future__ import annotations

import ctypes
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_CHECK_CALL = re.compile(r"""check\(\s*["']([^"']+)["']""")
MAX_NOTEBOOK_BYTES = 20 * 2**20


@dataclass(frozen=True)
class Limits:
    """Per submission: seconds per cell, seconds in all, bytes of private writable memory (the
    data limit), file size."""

    cell_seconds: float = 120.0
    total_seconds: float = 600.0
    memory_bytes: int = 4 * 2**30
    file_bytes: int = 200 * 2**20


@dataclass
class Run:
    """What one submission did: ``status`` is ``ran``, ``invalid``, ``timeout``, ``died`` or
    ``failed``; ``answers`` maps exercise ids to recorded answers; ``errors`` maps the index of
    a submission cell to its error; ``check_cells`` maps exercise ids to the cells that call
    ``check`` for them; ``stopped_at`` is the cell running when execution stopped."""

    status: str
    message: str = ""
    answers: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)
    check_cells: dict = field(default_factory=dict)
    stopped_at: int | None = None
    seconds: float = 0.0
    isolated: bool = False


def read_submission(path: Path):
    """The notebook in ``path`` as an nbformat v4 node, or a string saying why it is not one."""
    import nbformat
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        return f"file larger than {MAX_NOTEBOOK_BYTES // 2**20} MB"
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        return f"not UTF-8 text ({error.reason})"
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        return f"not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
    try:
        with warnings.catch_warnings():  # cells without ids are common and harmless here
            warnings.simplefilter("ignore")
            nb = nbformat.reads(text, as_version=4)
            nbformat.validate(nb)
    except Exception as error:  # nbformat raises several kinds for a malformed notebook
        return f"not a valid notebook ({type(error).__name__}: {str(error).splitlines()[0][:200]})"
    return nb


def check_cells(nb) -> dict[str, list[int]]:
    """Exercise id -> indices of the code cells whose source calls ``check`` for it."""
    found: dict[str, list[int]] = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            for exercise in dict.fromkeys(_CHECK_CALL.findall(cell.source)):
                found.setdefault(exercise, []).append(index)
    return found


def namespaces_available() -> bool:
    """Whether ``unshare`` can create user, mount and PID namespaces here."""
    unshare = shutil.which("unshare")
    if not unshare or sys.platform != "linux":
        return False
    probe = subprocess.run([unshare, "--user", "--map-root-user", "--mount", "--pid", "--net",
                            "--fork", "true"], capture_output=True)
    return probe.returncode == 0


def _under(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def folders_to_hide(extra: list[Path]) -> list[str]:
    """The instructor's folders a submission must not see: the repository, the checkout that
    holds the Python environment (if it is one of this course's), ``HOME``, and ``extra``."""
    candidates = [REPO, *extra]
    prefix_parent = Path(sys.prefix).resolve().parent
    if (prefix_parent / "_toc.yml").exists():
        candidates.append(prefix_parent)
    home = Path(os.path.expanduser("~")).resolve()
    if home != Path("/"):
        candidates.append(home)
    resolved = sorted({Path(c).resolve() for c in candidates if Path(c).exists()})
    return [str(c) for c in resolved if not any(_under(c, o) and c != o for o in resolved)]


def _limit_resources(limits: Limits):
    def apply() -> None:
        # The data limit counts what a submission allocates (heap, anonymous mappings, thread
        # stacks) but not the shared libraries it maps. An address-space limit (RLIMIT_AS) of
        # 4 GB stopped `import torch` itself with pip's CUDA build of torch (Python 3.12/3.13,
        # Colab), which maps several GB of libraries: every submission "could not run".
        resource.setrlimit(resource.RLIMIT_DATA, (limits.memory_bytes, limits.memory_bytes))
        cpu = int(limits.total_seconds) + 5
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def run_submission(path: Path, limits: Limits = Limits(), hide: list[Path] = (),
                   isolate: bool | None = None) -> Run:
    """Run the notebook ``path`` in a sandbox (module docstring) and return its :class:`Run`."""
    start = time.perf_counter()
    nb = read_submission(path)
    if isinstance(nb, str):
        return Run("invalid", nb)
    calls = check_cells(nb)
    isolate = namespaces_available() if isolate is None else isolate
    with tempfile.TemporaryDirectory(prefix="symcourse-grade-") as tmp:
        box = Path(tmp)
        work, home, lib = box / "work", box / "home", box / "lib"
        for folder in (work, home, lib):
            folder.mkdir()
        shutil.copytree(REPO / "symcourse", lib / "symcourse",
                        ignore=shutil.ignore_patterns("__pycache__"))
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        (work / "submission.ipynb").write_text(json.dumps(nb), encoding="utf-8")
        worker = box / "worker.py"
        shutil.copy2(Path(__file__), worker)  # the worker never imports from the repository
        shutil.copy2(Path(__file__).with_name("record.py"), box / "record.py")
        spec = {"notebook": str(work / "submission.ipynb"), "work": str(work),
                "cell_seconds": limits.cell_seconds,
                "hide": folders_to_hide(list(hide)) if isolate else [],
                "keep": [str(Path(sys.prefix).resolve()), str(Path(sys.base_prefix).resolve()),
                         str(box.resolve())]}
        env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(home),
               "PYTHONPATH": str(lib), "LANG": "C.UTF-8", "MPLBACKEND": "Agg",
               "MPLCONFIGDIR": str(home / "mpl"), "IPYTHONDIR": str(home / "ipython"),
               "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "TMPDIR": str(home),
               "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE", "PYTHONHASHSEED": "0"}
        command = [sys.executable, str(worker), json.dumps(spec)]
        if isolate:
            command = [shutil.which("unshare"), "--user", "--map-root-user", "--mount", "--pid",
                       "--net", "--fork", "--kill-child", *command]
        process = subprocess.Popen(command, cwd=work, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                   start_new_session=True, preexec_fn=_limit_resources(limits))
        try:
            stdout, stderr = process.communicate(timeout=limits.total_seconds + 30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            run = Run("timeout", f"the whole notebook took over {limits.total_seconds:.0f} s")
        else:
            os.killpg(process.pid, signal.SIGKILL) if _group_alive(process.pid) else None
            run = _parse(stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace"))
    run.check_cells, run.isolated = calls, isolate
    run.seconds = time.perf_counter() - start
    return run


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _parse(stdout: str, stderr: str) -> Run:
    lines = [line for line in stdout.splitlines() if line.startswith('{"worker": ')]
    if not lines:
        tail = " ".join(stderr.strip().splitlines()[-2:])[-300:]
        return Run("failed", f"the grading process stopped without a result ({tail or 'no output'})")
    data = json.loads(lines[-1])["worker"]
    return Run(data["status"], data["message"], data["answers"],
               {int(k): v for k, v in data["errors"].items()}, stopped_at=data["stopped_at"])


# ---------------------------------------------------------------------------------------------
# The worker: runs inside the sandbox, reads nothing from the repository.
# ---------------------------------------------------------------------------------------------

_MS_BIND, _MS_REC, _MS_PRIVATE = 4096, 16384, 1 << 18
_MS_RDONLY, _MS_REMOUNT = 1, 32
#: Per-mount options a remount in a user namespace must keep (the kernel locks them).
_LOCKED = {"nosuid": 2, "nodev": 4, "noexec": 8, "noatime": 1024, "nodiratime": 2048,
           "relatime": 1 << 21}


def _mount(source, target, fstype, flags, data=None) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    encode = (lambda s: s.encode() if isinstance(s, str) else s)
    if libc.mount(encode(source), encode(target), encode(fstype), flags, encode(data)) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {source} on {target}: {os.strerror(errno)}")


def hide_folders(hide: list[str], keep: list[str], stage: Path) -> None:
    """Cover each folder in ``hide`` with an empty tmpfs, except the ``keep`` folders inside it
    (bound back in place). Needs a private mount namespace (``unshare --mount``)."""
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
    for number, folder in enumerate(hide):
        inside = [Path(k) for k in keep if _under(Path(k), Path(folder))]
        staged = []
        for index, kept in enumerate(inside):
            target = stage / f"{number}-{index}"
            target.mkdir(parents=True)
            _mount(str(kept), str(target), None, _MS_BIND | _MS_REC)
            staged.append((target, kept))
        _mount("tmpfs", folder, "tmpfs", 0, "size=1m,mode=0755")
        for target, kept in staged:
            kept.mkdir(parents=True, exist_ok=True)
            _mount(str(target), str(kept), None, _MS_BIND | _MS_REC)


def loopback_up() -> None:
    """Bring up ``lo`` in the new network namespace (the kernel talks to nbclient over it);
    there is no other interface, so the submission has no network."""
    import fcntl
    import socket
    import struct
    get_flags, set_flags, up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(sock, get_flags, request))[1]
        fcntl.ioctl(sock, set_flags, struct.pack("16sh", b"lo", flags | up))


def read_only_world(writable: list[str]) -> list[str]:
    """Remount every file system read-only except the ``writable`` folders (bound onto
    themselves first) and the kernel's own /proc, /sys and /dev; return mount points that
    could not be remounted."""
    for folder in writable:
        _mount(folder, folder, None, _MS_BIND | _MS_REC)
    failed = []
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        mounts = [line.split() for line in handle]
    for fields in mounts:
        point = fields[4].replace("\\040", " ")
        if point.startswith(("/proc", "/sys", "/dev")) or any(
                _under(Path(point), Path(w)) for w in writable):
            continue
        flags = _MS_BIND | _MS_REMOUNT | _MS_RDONLY
        flags |= sum(bit for name, bit in _LOCKED.items() if name in fields[5].split(","))
        try:
            _mount(None, point, None, flags)
        except OSError:
            failed.append(point)
    return failed


def worker(spec: dict) -> dict:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from record import answers_from_outputs, recorder_source

    if spec["hide"]:
        box = Path(spec["work"]).parent
        hide_folders(spec["hide"], spec["keep"], box / "stage")
        read_only_world([str(box)])
        loopback_up()
    nb = nbformat.read(spec["notebook"], as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(recorder_source()))
    current = {"index": None}

    def on_cell_start(cell, cell_index):
        current["index"] = cell_index - 1  # in the submission's own numbering

    client = NotebookClient(nb, timeout=spec["cell_seconds"], kernel_name="python3",
                            allow_errors=True, record_timing=False, on_cell_start=on_cell_start,
                            resources={"metadata": {"path": spec["work"]}})
    status, message, stopped = "ran", "", None
    try:
        client.execute()
    except CellTimeoutError:
        status, stopped = "timeout", current["index"]
        message = f"cell {stopped} ran past the {spec['cell_seconds']:.0f} s limit"
    except DeadKernelError:
        status, stopped = "died", current["index"]
        message = f"the kernel died in cell {stopped} (memory limit, or the code ended it)"
    except Exception as error:  # anything else that stops nbclient is the submission's failure
        status, stopped = "failed", current["index"]
        message = f"execution stopped in cell {stopped}: {type(error).__name__}: {error}"[:400]
    errors = {}
    for index, cell in enumerate(nb.cells[1:]):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                errors[index] = f"{output.get('ename')}: {output.get('evalue')}"[:300]
    if any(o.get("output_type") == "error" for o in nb.cells[0].get("outputs", [])):
        status, message = "failed", "the grader's recorder cell failed: " + str(
            [o.get("evalue") for o in nb.cells[0].outputs])[:300]
    answers = answers_from_outputs(nb.cells[1:])
    return {"status": status, "message": message, "answers": answers, "errors": errors,
            "stopped_at": stopped}


if __name__ == "__main__":
    result = worker(json.loads(sys.argv[1]))
    print(json.dumps({"worker": result}), flush=True)
