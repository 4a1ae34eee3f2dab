#!/usr/bin/env python3
"""Build a protobuf FileDescriptorSet from the LiveKit SDK wheel's generated `_pb2.py` modules.

The wheel ships its protocol schema only as serialized `FileDescriptorProto`s embedded in
Python modules. We read the byte literal passed to `AddSerializedFile(...)` with `ast`
(no protobuf runtime needed), order the files dependencies-first, and write the set
that `prost_build::Config::compile_fds` consumes.

usage: sdk_descriptors.py PROTO_DIR OUT_FILE
"""
import ast
import pathlib
import sys


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def read_varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def parse_file(fdp: bytes) -> tuple[str, list[str]]:
    """Return (name, dependencies) of a serialized FileDescriptorProto (fields 1 and 3)."""
    name, deps, i = "", [], 0
    while i < len(fdp):
        key, i = read_varint(fdp, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _, i = read_varint(fdp, i)
        elif wire == 2:
            n, i = read_varint(fdp, i)
            value = fdp[i : i + n]
            i += n
            if field == 1:
                name = value.decode()
            elif field == 3:
                deps.append(value.decode())
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            raise ValueError(f"unexpected wire type {wire}")
    return name, deps


def serialized_descriptor(path: pathlib.Path) -> bytes:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "AddSerializedFile"
        ):
            return ast.literal_eval(node.args[0])
    raise SystemExit(f"{path}: no AddSerializedFile(...) call found")


def main() -> None:
    proto_dir, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    files = {}
    for path in sorted(proto_dir.glob("*_pb2.py")):
        fdp = serialized_descriptor(path)
        name, deps = parse_file(fdp)
        files[name] = (fdp, deps)
    if not files:
        raise SystemExit(f"{proto_dir}: no *_pb2.py modules")

    ordered, seen = [], set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for dep in files[name][1]:
            if dep not in files:
                raise SystemExit(f"{name} depends on {dep}, which the wheel does not ship")
            visit(dep)
        ordered.append(name)

    for name in sorted(files):
        visit(name)

    out.write_bytes(b"".join(b"\x0a" + varint(len(files[n][0])) + files[n][0] for n in ordered))
    print(f"wrote {out} ({len(ordered)} files: {', '.join(ordered)})")


if __name__ == "__main__":
    main()
