"""Gust's python launcher: the language process of an action proxy in
ActionLoop mode.

The proxy (actions/proxy) starts it once per container with the action's
code at $GUST_ACTION_PATH (a file, or the directory of an extracted zip with
a __main__.py) and the entry point's name in $GUST_ACTION_MAIN. It answers on
file descriptor 3: first {"ok": true} once the code is loaded (or
{"error": ...} and exits), then one JSON line for each request line read from
stdin, one request at a time.

Started before /init with GUST_INIT_ON_STDIN=true, it writes {"ready": true}
on file descriptor 3, then waits for an init line on stdin, {"init": {"env": {...}}}, sets those environment variables (the
two above among them) and then loads the code.
"""

import importlib.util
import json
import os
import sys
import traceback

RESULT_FD = 3


def send(obj):
    try:
        data = json.dumps(obj)
    except (TypeError, ValueError) as e:
        data = json.dumps({"error": "The action returned a result that cannot be serialized: %s" % e})
    buf = (data + "\n").encode("utf-8")
    while buf:
        n = os.write(RESULT_FD, buf)
        buf = buf[n:]


def load():
    where = os.environ["GUST_ACTION_PATH"]
    name = os.environ.get("GUST_ACTION_MAIN") or "main"
    if os.path.isdir(where):
        sys.path.insert(0, where)
        os.chdir(where)
        where = os.path.join(where, "__main__.py")
        if not os.path.exists(where):
            raise Exception("Zip file does not include __main__.py")
    spec = importlib.util.spec_from_file_location("main__", where)
    module = importlib.util.module_from_spec(spec)
    sys.modules["main__"] = module
    spec.loader.exec_module(module)
    fn = getattr(module, name, None)
    if not callable(fn):
        raise Exception("Action entrypoint '%s' is not a function." % name)
    return fn


def init_error_text(e):
    """Why the action's code did not load, for a person: the error, where in
    the action's code (line and column of a syntax error, with the line and
    a caret), and the traceback's frames in that code, none of the
    launcher's."""
    if isinstance(e, SyntaxError) and e.lineno:
        text = "%s: %s (line %d" % (type(e).__name__, e.msg, e.lineno)
        if e.offset:
            text += ", column %d" % e.offset
        text += ")"
        if e.text:
            line = e.text.rstrip("\n")
            stripped = line.lstrip()
            text += "\n    " + stripped
            if e.offset:
                col = e.offset - 1 - (len(line) - len(stripped))
                text += "\n    " + " " * max(col, 0) + "^"
        return text
    where = os.environ.get("GUST_ACTION_PATH") or "\0"
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename.startswith(where)]
    text = "".join(traceback.format_exception_only(type(e), e)).rstrip("\n")
    if type(e) is Exception:  # the launcher's own, such as a missing main
        text = str(e)
    for f in frames:
        text += '\n  File "%s", line %d, in %s' % (f.filename, f.lineno, f.name)
        if f.line:
            text += "\n    " + f.line.strip()
    return text


def code_traceback(e):
    """e's traceback as Python prints it, with only the frames in the
    action's code, none of the launcher's."""
    where = os.environ.get("GUST_ACTION_PATH") or "\0"
    frames = traceback.StackSummary.from_list(
        [f for f in traceback.extract_tb(e.__traceback__) if f.filename.startswith(where)])
    return ("Traceback (most recent call last):\n" + "".join(frames.format()) +
            "".join(traceback.format_exception_only(type(e), e)))


def flush():
    sys.stdout.flush()
    sys.stderr.flush()


def run(fn, line):
    try:
        msg = json.loads(line)
    except ValueError as e:
        return {"error": "The request is not valid JSON: %s" % e}
    if not isinstance(msg, dict):
        return {"error": "The request is not a JSON object."}
    for k, v in msg.items():
        if k != "value" and isinstance(v, str):
            try:
                os.environ["__OW_" + k.upper()] = v
            except (ValueError, OSError):
                pass  # a NUL, "=" or lone surrogate, which no environment holds
    try:
        return fn(msg.get("value", {}))
    except Exception as e:
        sys.stderr.write(code_traceback(e))
        return {"error": str(e)}  # as OpenWhisk's python ActionLoop launcher


def init_from_stdin():
    """Sets the environment of the init line; False if stdin ended."""
    send({"ready": True})
    line = sys.stdin.readline()
    if not line:
        return False
    try:
        env = json.loads(line)["init"]["env"]
        if not isinstance(env, dict):
            raise ValueError("the init line has no env")
        for k, v in env.items():
            os.environ[k] = str(v)
    except Exception as e:
        send({"error": "Initialization has failed due to: invalid init line: %s" % e})
        sys.exit(1)
    return True


def main():
    deferred = os.environ.pop("GUST_INIT_ON_STDIN", None) == "true"
    if deferred and not init_from_stdin():
        return
    try:
        fn = load()
    except BaseException as e:
        text = init_error_text(e)
        print("Error during initialization: " + text, file=sys.stderr)
        flush()
        send({"error": "Initialization has failed due to: " + text})
        sys.exit(1)
    send({"ok": True})
    while True:
        line = sys.stdin.readline()
        if not line:
            return
        result = run(fn, line)
        flush()
        send(result)


if __name__ == "__main__":
    main()
