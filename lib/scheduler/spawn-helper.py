"""The process spawner, in Python: the same protocol as spawn-helper.mjs, spoken over Node's IPC channel.

Why Python: Node (libuv) forks on Linux, and a fork copies the page tables of the forking process, so
each program costs a Node spawner about 1.3 ms. Python's os.posix_spawn is glibc's, which starts the
program with clone(CLONE_VM | CLONE_VFORK) and copies nothing: about 0.6 ms, as make does. python3 is
there wherever Onboarder runs ansible; where it is missing or too old, the engine uses the Node spawner.

The channel is Node's: the engine starts this with an 'ipc' stdio entry, which it names in
NODE_CHANNEL_FD, and messages are JSON, one per line (Node's 'json' serialization). The messages are
described in spawn-helper.mjs.

Writes to the channel block: while the engine has not taken in what this process sent, it reads no more
output, so a program printing faster than the engine reads blocks on its full pipe, as it would writing to
a slow terminal. This process buffers at most one read per program.
"""

import codecs
import errno
import json
import os
import selectors
import signal
import sys
import time

# What this needs (Python 3.9, Linux 5.3, a seccomp profile that allows pidfd_open): without it, this
# exits before it says it is ready, and the engine starts Node's spawner instead.
if not hasattr(os, "posix_spawn") or not hasattr(os, "pidfd_open"):
    sys.exit(3)
try:
    os.close(os.pidfd_open(os.getpid()))
except OSError:
    sys.exit(3)

OUTPUT_DRAIN_SECONDS = 2.0
READ_SIZE = 65536
channel = int(os.environ["NODE_CHANNEL_FD"])
os.set_inheritable(channel, False)
os.set_blocking(channel, True)
# Every signal back to its default in the programs: this process ignores the ones below, and Python itself
# ignores SIGPIPE and SIGXFSZ, and an ignored signal stays ignored across exec.
default_signals = [number for number in signal.valid_signals() if number not in (signal.SIGKILL, signal.SIGSTOP)]
# Ctrl-C (or a SIGTERM or hangup to the whole group) reaches this process too; the engine decides what stops.
for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(number, signal.SIG_IGN)

selector = selectors.DefaultSelector()
base_environment = {}
running = {}  # request id -> Program
connected = True


class Program:
    def __init__(self, request_id, pid, encoding):
        self.id = request_id
        self.pid = pid
        self.pidfd = -1
        self.streams = {}  # descriptor -> (message type, decoder)
        self.encoding = encoding
        self.stdin = -1
        self.pending_stdin = bytearray()
        self.stdin_ending = False
        self.exit = None  # (exit code, signal name)
        self.drain_deadline = None
        self.output_left_open = False


def send(message):
    global connected
    if not connected:
        return
    data = (json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8", "surrogatepass")
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(channel, view):]
    except OSError:
        disconnected()


def error_name(number):
    return errno.errorcode.get(number, "E%d" % number)


def resolve_program(program, environment):
    """Where execvp would find `program`, along the program's own PATH (as Node does)."""
    if "/" in program:
        return program
    search = environment.get("PATH")
    if search is None:
        search = os.confstr("CS_PATH") or "/bin:/usr/bin"
    denied = None
    for directory in search.split(":"):
        candidate = os.path.join(directory or ".", program)
        if os.path.isfile(candidate):
            if os.access(candidate, os.X_OK):
                return candidate
            denied = candidate
    if denied is not None:
        raise OSError(errno.EACCES, os.strerror(errno.EACCES))
    raise OSError(errno.ENOENT, os.strerror(errno.ENOENT))


def start(message):
    request_id = message["id"]
    program = message["program"]
    environment = dict(base_environment)
    environment.update(message.get("env") or {})
    feeds_stdin = "input" in message or message.get("stdin") == "pipe"
    opened = []
    try:
        # posix_spawn has no working directory of its own (glibc's addchdir is not in Python's API): this
        # process moves there, one program at a time.
        os.chdir(message["cwd"])
        path = resolve_program(program, environment)
        stdout_read, stdout_write = os.pipe()
        opened += [stdout_read, stdout_write]
        stderr_read, stderr_write = os.pipe()
        opened += [stderr_read, stderr_write]
        actions = [(os.POSIX_SPAWN_DUP2, stdout_write, 1), (os.POSIX_SPAWN_DUP2, stderr_write, 2)]
        if feeds_stdin:
            stdin_read, stdin_write = os.pipe()
            opened += [stdin_read, stdin_write]
            actions.append((os.POSIX_SPAWN_DUP2, stdin_read, 0))
        else:
            actions.append((os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0))
        argv = [program] + list(message["args"])
        # Its own session, so its own process group: stopping the task signals the whole tree.
        options = dict(file_actions=actions, setsid=True, setsigdef=default_signals, setsigmask=())
        try:
            pid = os.posix_spawn(path, argv, environment, **options)
        except OSError as error:
            if error.errno != errno.ENOEXEC:
                raise
            # A script without a #! line: execvp (and so Node) runs it with the shell.
            pid = os.posix_spawn("/bin/sh", ["/bin/sh", path] + argv[1:], environment, **options)
    except (OSError, ValueError) as error:
        for descriptor in opened:
            os.close(descriptor)
        code = error_name(error.errno) if isinstance(error, OSError) and error.errno else None
        failure = {"type": "start-failed", "id": request_id, "message": "spawn %s %s" % (program, code or error)}
        if code:
            failure["code"] = code
        send(failure)
        return
    os.close(stdout_write)
    os.close(stderr_write)
    try:
        pidfd = os.pidfd_open(pid)
    except OSError as error:
        # Out of descriptors, say: a program whose end cannot be seen is not left running.
        os.killpg(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        for descriptor in opened:
            if descriptor not in (stdout_write, stderr_write):
                os.close(descriptor)
        code = error_name(error.errno)
        send({"type": "start-failed", "id": request_id, "code": code, "message": "spawn %s %s" % (program, code)})
        return
    child = Program(request_id, pid, message.get("encoding") or "utf8")
    running[request_id] = child
    send({"type": "started", "id": request_id, "pid": pid})
    for descriptor, kind in ((stdout_read, "stdout"), (stderr_read, "stderr")):
        os.set_blocking(descriptor, False)
        decoder = None if child.encoding == "latin1" else codecs.getincrementaldecoder("utf-8")("replace")
        child.streams[descriptor] = (kind, decoder)
        selector.register(descriptor, selectors.EVENT_READ, (child, kind))
    child.pidfd = pidfd
    selector.register(child.pidfd, selectors.EVENT_READ, (child, "exit"))
    if feeds_stdin:
        os.close(stdin_read)
        os.set_blocking(stdin_write, False)
        child.stdin = stdin_write
        if "input" in message:
            child.pending_stdin += message["input"].encode("utf-8", "surrogatepass")
            child.stdin_ending = True
        flush_stdin(child)


def flush_stdin(child):
    if child.stdin < 0:
        return
    try:
        while child.pending_stdin:
            written = os.write(child.stdin, child.pending_stdin)
            del child.pending_stdin[:written]
    except BlockingIOError:
        pass
    except OSError:
        # The program exited without reading its input: not an error of ours (Node ignores it too).
        child.pending_stdin.clear()
        child.stdin_ending = True
    waiting = bool(child.pending_stdin)
    if not waiting and child.stdin_ending:
        close_stdin(child)
        return
    key = selector.get_map().get(child.stdin)
    if waiting and key is None:
        selector.register(child.stdin, selectors.EVENT_WRITE, (child, "stdin"))
    elif not waiting and key is not None:
        selector.unregister(child.stdin)


def close_stdin(child):
    if child.stdin < 0:
        return
    if child.stdin in selector.get_map():
        selector.unregister(child.stdin)
    os.close(child.stdin)
    child.stdin = -1
    child.pending_stdin.clear()


def read_output(child, descriptor):
    kind, decoder = child.streams[descriptor]
    try:
        data = os.read(descriptor, READ_SIZE)
    except BlockingIOError:
        return
    except OSError:
        data = b""
    text = data.decode("latin1") if decoder is None else decoder.decode(data, final=not data)
    if text:
        send({"type": kind, "id": child.id, "data": text})
    if not data:
        close_stream(child, descriptor)
        finish_if_done(child)


def close_stream(child, descriptor):
    selector.unregister(descriptor)
    os.close(descriptor)
    del child.streams[descriptor]


def reap(child):
    selector.unregister(child.pidfd)
    os.close(child.pidfd)
    child.pidfd = -1
    _, status = os.waitpid(child.pid, 0)
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = "SIG%d" % number
        child.exit = (None, name)
    else:
        child.exit = (os.WEXITSTATUS(status), None)
    # Its output gets a grace period to drain: something it left running may hold the pipes open.
    child.drain_deadline = time.monotonic() + OUTPUT_DRAIN_SECONDS
    finish_if_done(child)


def finish_if_done(child):
    if child.exit is None or child.streams:
        return
    close_stdin(child)
    del running[child.id]
    exit_code, signal_name = child.exit
    message = {"type": "exit", "id": child.id, "exitCode": exit_code, "signal": signal_name}
    if child.output_left_open:
        message["outputLeftOpen"] = True
    send(message)


def give_up_output(now):
    for child in list(running.values()):
        if child.drain_deadline is not None and child.drain_deadline <= now and child.streams:
            child.output_left_open = True
            for descriptor in list(child.streams):
                close_stream(child, descriptor)
            finish_if_done(child)


def next_timeout():
    deadlines = [child.drain_deadline for child in running.values() if child.drain_deadline is not None and child.streams]
    if stop_deadline is not None:
        deadlines.append(stop_deadline)
    if not deadlines:
        return None
    return max(0.0, min(deadlines) - time.monotonic())


def receive(message):
    global base_environment
    kind = message.get("type")
    if kind == "run":
        start(message)
    elif kind == "env":
        base_environment = {name: value for name, value in message["env"].items() if isinstance(value, str)}
    elif kind in ("stdin", "stdin-end"):
        child = running.get(message["id"])
        if child is None or child.stdin < 0:
            return
        if kind == "stdin":
            child.pending_stdin += message["data"].encode("latin1")
        else:
            child.stdin_ending = True
        flush_stdin(child)


stop_deadline = None
stop_groups = []


def signal_groups(groups, number):
    for group in groups:
        try:
            os.killpg(group, number)
        except OSError:
            pass  # Already gone.


def disconnected():
    """The engine went away. After a normal run nothing is running; if it was killed (kill -9, the OOM
    killer), its tasks' programs are stopped as the engine would have: TERM to each group, KILL after the
    grace period."""
    global connected, stop_deadline, stop_groups
    if not connected:
        return
    connected = False
    if channel in selector.get_map():
        selector.unregister(channel)
    if not running:
        sys.exit(0)
    stop_groups = [child.pid for child in running.values()]
    signal_groups(stop_groups, signal.SIGTERM)
    stop_deadline = time.monotonic() + float(os.environ.get("ONBOARDER_GRACE_MS", "5000")) / 1000


def main():
    selector.register(channel, selectors.EVENT_READ, (None, "channel"))
    send({"type": "ready"})
    # What the engine sent after the last complete message (a large input spans many reads).
    pending = bytearray()
    while True:
        for key, _ in selector.select(next_timeout()):
            child, kind = key.data
            if kind == "channel":
                try:
                    data = os.read(channel, READ_SIZE)
                except OSError:
                    data = b""
                if not data:
                    disconnected()
                    continue
                pending += data
                if b"\n" not in data:
                    continue
                lines = pending.split(b"\n")
                pending = bytearray(lines.pop())
                for line in lines:
                    if line:
                        receive(json.loads(line))
            elif kind == "exit":
                if child.pidfd >= 0:
                    reap(child)
            elif kind == "stdin":
                flush_stdin(child)
            elif key.fd in child.streams:
                read_output(child, key.fd)
        now = time.monotonic()
        give_up_output(now)
        if not connected and (not running or now >= stop_deadline):
            signal_groups(stop_groups, signal.SIGKILL)
            sys.exit(0)


try:
    main()
except SystemExit:
    raise
except BaseException as error:
    # One line, as the engine reports its own errors: no traceback on the operator's terminal, and not the
    # exception's text, which could quote what a message carried (environments hold secrets). The engine
    # reports the programs this was relaying as ended.
    import traceback

    line = traceback.extract_tb(error.__traceback__)[-1].lineno
    sys.stderr.write("onboarder: the process spawner stopped on %s (spawn-helper.py:%d)\n" % (type(error).__name__, line))
    sys.exit(70)
