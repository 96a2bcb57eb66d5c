#!/usr/bin/python3
"""proto/flovyn.proto against the wire contract (shared/spec/grpc-contract.md 1.1-1.4).

1. The descriptors generated from our proto are compared with the contract's
   tables, transcribed below row by row: every message and only those, every
   field's name, number, type and label, explicit presence of the `optional`
   fields (each alone in a oneof named opt_<field>), maps, the enum, the file
   options, and every method's full path with its input and output types.
2. Proof that a one-field oneof is wire-identical to proto3 `optional`: each
   optional field of the contract is encoded unset, set to its zero value and
   set to a non-zero value, through our message, through a message declared
   with `optional` (compiled by the system protoc, since Debian's grpc_tools
   refuses `optional`), and against bytes written out by hand; the bytes are
   decoded across both ways with presence preserved.

Usage: /usr/bin/python3 tests/proto/check_wire.py
Prints one `ok`/`not ok` line per check (TAP) and exits 1 on any failure.
"""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
import flovyn_proto  # noqa: E402
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from tap import check, finish  # noqa: E402

from google.protobuf import descriptor_pb2  # noqa: E402

FDP = descriptor_pb2.FieldDescriptorProto

# ---------------------------------------------------------------------------
# The contract, transcribed from grpc-contract.md sections 1.2-1.4.
# One row per field: Message  number  field  type  [label]
# The type column holds a scalar, a message or enum name, or map<string,string>;
# the label column optional / repeated (absent = singular, implicit presence).
# ---------------------------------------------------------------------------
CONTRACT_FIELDS = """
WorkerRegistrationRequest   1  worker_name            string
WorkerRegistrationRequest   2  worker_version         string
WorkerRegistrationRequest   3  worker_type            string
WorkerRegistrationRequest   4  org_id                 string
WorkerRegistrationRequest   5  team_id                string  optional
WorkerRegistrationRequest   6  host_name              string
WorkerRegistrationRequest   7  process_id             string
WorkerRegistrationRequest   8  workflows              WorkflowCapability  repeated
WorkerRegistrationRequest   9  tasks                  TaskCapability      repeated
WorkerRegistrationRequest  10  metadata               bytes
WorkerRegistrationRequest  11  agents                 AgentCapability     repeated

WorkflowCapability   1  kind             string
WorkflowCapability   2  name             string
WorkflowCapability   3  description      string
WorkflowCapability   4  timeout_seconds  int32   optional
WorkflowCapability   5  cancellable      bool
WorkflowCapability   6  tags             string  repeated
WorkflowCapability   7  retry_policy     bytes
WorkflowCapability   8  metadata         bytes
WorkflowCapability   9  version          string
WorkflowCapability  10  content_hash     string
WorkflowCapability  11  input_schema     bytes
WorkflowCapability  12  output_schema    bytes

TaskCapability   1  kind             string
TaskCapability   2  name             string
TaskCapability   3  description      string
TaskCapability   4  timeout_seconds  int32   optional
TaskCapability   5  cancellable      bool
TaskCapability   6  tags             string  repeated
TaskCapability   7  retry_policy     bytes
TaskCapability   8  input_schema     bytes
TaskCapability   9  output_schema    bytes
TaskCapability  10  metadata         bytes

AgentCapability  1  kind          string
AgentCapability  2  name          string
AgentCapability  3  description   string
AgentCapability  4  input_schema  bytes
AgentCapability  5  metadata      bytes

WorkerRegistrationResponse  1  worker_id           string
WorkerRegistrationResponse  2  success             bool
WorkerRegistrationResponse  3  error               string  optional
WorkerRegistrationResponse  4  workflow_conflicts  WorkflowConflict  repeated
WorkerRegistrationResponse  5  task_conflicts      TaskConflict      repeated

WorkflowConflict  1  kind                string
WorkflowConflict  2  reason              string
WorkflowConflict  3  existing_worker_id  string
TaskConflict      1  kind                string
TaskConflict      2  reason              string
TaskConflict      3  existing_worker_id  string

WorkerHeartbeatRequest  1  worker_id       string
WorkerHeartbeatRequest  2  workflow_kinds  string  repeated
WorkerHeartbeatRequest  3  task_kinds      string  repeated
WorkerHeartbeatRequest  4  health_info     bytes

SubmitTaskRequest   1  workflow_execution_id        string
SubmitTaskRequest   2  org_id                       string
SubmitTaskRequest   3  kind                         string
SubmitTaskRequest   4  input                        bytes
SubmitTaskRequest   5  metadata                     map<string,string>
SubmitTaskRequest   6  max_retries                  int32
SubmitTaskRequest   7  timeout_ms                   int64
SubmitTaskRequest   8  idempotency_key              string  optional
SubmitTaskRequest   9  idempotency_key_ttl_seconds  int64   optional
SubmitTaskRequest  10  queue                        string
SubmitTaskRequest  11  worker_pool_id               string  optional

SubmitTaskResponse  1  task_execution_id     string
SubmitTaskResponse  2  idempotency_key_used  bool
SubmitTaskResponse  3  idempotency_key_new   bool

PollTaskRequest  1  worker_id        string
PollTaskRequest  2  org_id           string
PollTaskRequest  3  worker_labels    map<string,string>
PollTaskRequest  4  timeout_seconds  int64
PollTaskRequest  5  queue            string
PollTaskRequest  6  worker_pool_id   string  optional

PollTaskResponse  1  task  TaskExecutionInfo

TaskExecutionInfo  1  task_execution_id      string
TaskExecutionInfo  2  kind                   string
TaskExecutionInfo  3  input                  bytes
TaskExecutionInfo  4  workflow_execution_id  string
TaskExecutionInfo  5  execution_count        int32
TaskExecutionInfo  6  queue                  string
TaskExecutionInfo  7  worker_pool_id         string  optional
TaskExecutionInfo  8  traceparent            string

CompleteTaskRequest    1  task_execution_id  string
CompleteTaskRequest    2  output             bytes
FailTaskRequest        1  task_execution_id  string
FailTaskRequest        2  error              string
ReportProgressRequest  1  task_execution_id  string
ReportProgressRequest  2  progress           double
ReportProgressRequest  3  details            string
HeartbeatRequest       1  task_execution_id  string
CancelTaskRequest      1  task_execution_id  string
LogMessageRequest      1  task_execution_id  string
LogMessageRequest      2  level              string
LogMessageRequest      3  message            string
GetStateRequest        1  task_execution_id  string
GetStateRequest        2  key                string
GetStateResponse       1  value              bytes
GetStateResponse       2  found              bool
SetStateRequest        1  task_execution_id  string
SetStateRequest        2  key                string
SetStateRequest        3  value              bytes
ClearStateRequest      1  task_execution_id  string
ClearStateRequest      2  key                string
ClearAllStateRequest   1  task_execution_id  string
GetStateKeysRequest    1  task_execution_id  string
GetStateKeysResponse   1  keys               string  repeated

StreamTaskDataRequest   1  task_execution_id      string
StreamTaskDataRequest   2  workflow_execution_id  string
StreamTaskDataRequest   3  sequence               int32
StreamTaskDataRequest   4  type                   StreamEventType
StreamTaskDataRequest   5  payload                string
StreamTaskDataRequest   6  timestamp_ms           int64
StreamTaskDataResponse  1  acknowledged           bool
"""

CONTRACT_ENUMS = {
    "StreamEventType": [("STREAM_EVENT_TYPE_UNSPECIFIED", 0), ("TOKEN", 1), ("PROGRESS", 2),
                        ("DATA", 3), ("ERROR", 4)],
}

EMPTY = "google.protobuf.Empty"
CONTRACT_METHODS = [
    ("/flovyn.v1.WorkerLifecycle/RegisterWorker", "WorkerRegistrationRequest", "WorkerRegistrationResponse"),
    ("/flovyn.v1.WorkerLifecycle/SendHeartbeat", "WorkerHeartbeatRequest", EMPTY),
    ("/flovyn.v1.TaskExecution/SubmitTask", "SubmitTaskRequest", "SubmitTaskResponse"),
    ("/flovyn.v1.TaskExecution/PollTask", "PollTaskRequest", "PollTaskResponse"),
    ("/flovyn.v1.TaskExecution/CompleteTask", "CompleteTaskRequest", EMPTY),
    ("/flovyn.v1.TaskExecution/FailTask", "FailTaskRequest", EMPTY),
    ("/flovyn.v1.TaskExecution/ReportProgress", "ReportProgressRequest", EMPTY),
    ("/flovyn.v1.TaskExecution/Heartbeat", "HeartbeatRequest", EMPTY),
    ("/flovyn.v1.TaskExecution/CancelTask", "CancelTaskRequest", EMPTY),
    ("/flovyn.v1.TaskExecution/LogMessage", "LogMessageRequest", EMPTY),
    ("/flovyn.v1.TaskExecution/GetState", "GetStateRequest", "GetStateResponse"),
    ("/flovyn.v1.TaskExecution/SetState", "SetStateRequest", EMPTY),
    ("/flovyn.v1.TaskExecution/ClearState", "ClearStateRequest", EMPTY),
    ("/flovyn.v1.TaskExecution/ClearAllState", "ClearAllStateRequest", EMPTY),
    ("/flovyn.v1.TaskExecution/GetStateKeys", "GetStateKeysRequest", "GetStateKeysResponse"),
    ("/flovyn.v1.TaskExecution/StreamTaskData", "StreamTaskDataRequest", "StreamTaskDataResponse"),
]

SCALARS = {
    "string": FDP.TYPE_STRING, "bytes": FDP.TYPE_BYTES, "bool": FDP.TYPE_BOOL,
    "int32": FDP.TYPE_INT32, "int64": FDP.TYPE_INT64, "double": FDP.TYPE_DOUBLE,
}


def parse_contract():
    """{message: [(number, name, type, label)]} in table order."""
    messages = {}
    for raw in CONTRACT_FIELDS.strip().splitlines():
        parts = raw.split()
        if not parts:
            continue
        msg, num, name, typ = parts[:4]
        label = parts[4] if len(parts) > 4 else ""
        assert label in ("", "optional", "repeated"), raw
        messages.setdefault(msg, []).append((int(num), name, typ, label))
    return messages


def type_name(fd):
    return {v: k for k, v in FDP.Type.items()}.get(fd.type, fd.type)


# ---------------------------------------------------------------------------
# 1. Descriptors against the contract
# ---------------------------------------------------------------------------

def check_descriptors(pb2):
    fdp = descriptor_pb2.FileDescriptorProto.FromString(pb2.DESCRIPTOR.serialized_pb)
    check("file: syntax proto3, package flovyn.v1",
          fdp.syntax == "proto3" and fdp.package == "flovyn.v1", (fdp.syntax, fdp.package))
    check("file: java_package ai.flovyn.protocol, java_multiple_files",
          fdp.options.java_package == "ai.flovyn.protocol" and fdp.options.java_multiple_files,
          fdp.options)
    check("file: imports google/protobuf/empty.proto only",
          list(fdp.dependency) == ["google/protobuf/empty.proto"], list(fdp.dependency))

    contract = parse_contract()
    ours = {m.name: m for m in fdp.message_type}
    check("messages: exactly the contract's %d" % len(contract),
          set(ours) == set(contract),
          "missing %s, extra %s" % (sorted(set(contract) - set(ours)),
                                    sorted(set(ours) - set(contract))))

    for msg, rows in contract.items():
        m = ours.get(msg)
        if m is None:
            continue
        fields = {f.number: f for f in m.field}
        problems = []
        for num, name, typ, label in rows:
            f = fields.get(num)
            if f is None:
                problems.append("#%d %s missing" % (num, name))
                continue
            if f.name != name:
                problems.append("#%d named %s, want %s" % (num, f.name, name))
            problems += field_problems(m, f, typ, label)
        extra = sorted(set(fields) - {r[0] for r in rows})
        if extra:
            problems.append("extra field numbers %s" % extra)
        # Oneofs are only there to give presence: one per optional field.
        n_opt = sum(1 for r in rows if r[3] == "optional")
        if len(m.oneof_decl) != n_opt:
            problems.append("%d oneofs for %d optional fields" % (len(m.oneof_decl), n_opt))
        check("%s: %d fields as the contract says" % (msg, len(rows)), not problems,
              "; ".join(problems))

    ours_enums = {e.name: e for e in fdp.enum_type}
    check("enums: exactly %s" % sorted(CONTRACT_ENUMS), set(ours_enums) == set(CONTRACT_ENUMS),
          sorted(ours_enums))
    for name, values in CONTRACT_ENUMS.items():
        e = ours_enums.get(name)
        got = [(v.name, v.number) for v in e.value] if e else None
        check("enum %s values" % name, got == values, got)

    methods = {}
    for svc in fdp.service:
        for meth in svc.method:
            methods["/%s.%s/%s" % (fdp.package, svc.name, meth.name)] = meth
    check("methods: exactly the contract's %d" % len(CONTRACT_METHODS),
          set(methods) == {m[0] for m in CONTRACT_METHODS},
          "missing %s, extra %s" % (sorted({m[0] for m in CONTRACT_METHODS} - set(methods)),
                                    sorted(set(methods) - {m[0] for m in CONTRACT_METHODS})))
    for path, req, resp in CONTRACT_METHODS:
        meth = methods.get(path)
        want_in = "." + (req if req == EMPTY else "flovyn.v1." + req)
        want_out = "." + (resp if resp == EMPTY else "flovyn.v1." + resp)
        ok = (meth is not None and meth.input_type == want_in and meth.output_type == want_out
              and not meth.client_streaming and not meth.server_streaming)
        check("%s (%s) returns (%s), unary" % (path, req, resp), ok,
              meth and (meth.input_type, meth.output_type))

    # The runtime view must agree: the generated classes serialise these paths.
    svc_names = sorted(pb2.DESCRIPTOR.services_by_name)
    check("services: WorkerLifecycle and TaskExecution",
          svc_names == ["TaskExecution", "WorkerLifecycle"], svc_names)


def field_problems(m, f, typ, label):
    """What is wrong with field f of message m against (typ, label)."""
    problems = []
    where = "#%d %s" % (f.number, f.name)
    if typ.startswith("map<"):
        key_t, val_t = typ[4:-1].split(",")
        entry = next((n for n in m.nested_type if "." + n.name == f.type_name.rsplit(
            "." + m.name, 1)[-1]), None)
        ok = (f.label == FDP.LABEL_REPEATED and f.type == FDP.TYPE_MESSAGE and entry is not None
              and entry.options.map_entry
              and [(x.number, x.name, x.type) for x in entry.field]
              == [(1, "key", SCALARS[key_t]), (2, "value", SCALARS[val_t])])
        if not ok:
            problems.append("%s is not %s" % (where, typ))
        return problems

    if typ in SCALARS:
        if f.type != SCALARS[typ]:
            problems.append("%s has type %s, want %s" % (where, type_name(f), typ))
    else:
        want = ".flovyn.v1." + typ
        if f.type not in (FDP.TYPE_MESSAGE, FDP.TYPE_ENUM) or f.type_name != want:
            problems.append("%s has type %s %s, want %s" % (where, type_name(f), f.type_name, want))
        if typ in CONTRACT_ENUMS and f.type != FDP.TYPE_ENUM:
            problems.append("%s should be an enum" % where)

    want_label = FDP.LABEL_REPEATED if label == "repeated" else FDP.LABEL_OPTIONAL
    if f.label != want_label:
        problems.append("%s has label %s" % (where, f.label))

    in_oneof = f.HasField("oneof_index")
    if label == "optional":
        if not in_oneof:
            problems.append("%s has no explicit presence (not in a oneof)" % where)
        else:
            oneof = m.oneof_decl[f.oneof_index]
            mates = [x.name for x in m.field
                     if x.HasField("oneof_index") and x.oneof_index == f.oneof_index]
            if oneof.name != "opt_" + f.name or mates != [f.name]:
                problems.append("%s is in oneof %s with %s, want opt_%s alone"
                                % (where, oneof.name, mates, f.name))
    elif in_oneof:
        problems.append("%s is in a oneof but the contract gives it implicit presence" % where)
    return problems


# ---------------------------------------------------------------------------
# 2. One-field oneof == proto3 optional, on the wire
# ---------------------------------------------------------------------------

def varint(n):
    if n < 0:
        n += 1 << 64  # int32/int64 negatives are sign-extended to 10 bytes
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def hand_encoding(num, typ, value):
    """The bytes proto3 `optional` gives one field set to value (by the spec)."""
    if typ == "string":
        data = value.encode()
        return varint(num << 3 | 2) + varint(len(data)) + data
    return varint(num << 3 | 0) + varint(value)


SAMPLES = {"string": ["", "x", "team-\u00e9"], "int32": [0, 1, 300, -1],
           "int64": [0, 86400, 2 ** 40, -5]}


def optional_rows():
    return [(msg, num, name, typ) for msg, rows in parse_contract().items()
            for num, name, typ, label in rows if label == "optional"]


def build_optional_module(rows, workdir):
    """Compiles a proto declaring each optional field with `optional`.

    Returns (module or None, note). Tries Debian's grpc_tools first, then the
    system protoc (3.21 accepts proto3 optional)."""
    lines = ['syntax = "proto3";', "package fvprobe.v1;"]
    for msg, num, name, typ in rows:
        lines.append("message %s_%s { optional %s %s = %d; }" % (msg, name, typ, name, num))
    path = os.path.join(workdir, "fv_optional_probe.proto")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")

    notes = []
    try:
        flovyn_proto.generate(path, out_dir=os.path.join(workdir, "grpc_tools"), grpc_stubs=False)
        out = os.path.join(workdir, "grpc_tools")
        notes.append("grpc_tools protoc accepts proto3 optional")
    except RuntimeError as e:
        notes.append("grpc_tools protoc refuses proto3 optional (%s)"
                     % str(e).splitlines()[-1][:90])
        out = None
        protoc = shutil.which("protoc")
        if protoc:
            out = os.path.join(workdir, "protoc")
            os.makedirs(out)
            res = subprocess.run([protoc, "-I" + workdir, "--python_out=" + out, path],
                                 capture_output=True, text=True)
            if res.returncode == 0:
                notes.append("used %s instead" % protoc)
            else:
                notes.append("protoc failed too: %s" % res.stderr.strip()[:120])
                out = None
    if out is None:
        return None, "; ".join(notes)
    (mod,) = flovyn_proto.import_generated(out, "fv_optional_probe_pb2")
    return mod, "; ".join(notes)


def check_optional_equivalence(pb2):
    rows = optional_rows()
    check("the contract's 9 optional fields found in the table", len(rows) == 9, rows)
    workdir = tempfile.mkdtemp(prefix="fv-optional-")
    try:
        opt_mod, note = build_optional_module(rows, workdir)
        print("# " + note, flush=True)
        for msg, num, name, typ in rows:
            opt_cls = getattr(opt_mod, "%s_%s" % (msg, name)) if opt_mod else None
            try:
                problems = compare_encodings(getattr(pb2, msg), opt_cls, num, name, typ)
            except (AttributeError, ValueError, TypeError) as e:
                problems = ["cannot compare: %s" % e]
            check("%s.%s (#%d %s): oneof == optional == spec bytes, unset/zero/non-zero"
                  % (msg, name, num, typ), not problems, "; ".join(problems))
        check("the comparison ran against a real `optional` message, not only hand bytes",
              opt_mod is not None, note)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def compare_encodings(ours_cls, opt_cls, num, name, typ):
    """Problems found comparing our oneof field with `optional` and the spec."""
    problems = []
    unset = ours_cls()
    if unset.SerializeToString() != b"":
        problems.append("unset encodes as %r" % unset.SerializeToString())
    if opt_cls is not None and opt_cls().SerializeToString() != b"":
        problems.append("optional unset encodes non-empty")
    if ours_cls.FromString(b"").WhichOneof("opt_" + name) is not None:
        problems.append("empty bytes decode as set")
    for value in SAMPLES[typ]:
        m = ours_cls()
        setattr(m, name, value)
        ours_b = m.SerializeToString()
        hand_b = hand_encoding(num, typ, value)
        if ours_b != hand_b:
            problems.append("%r: oneof gives %s, spec %s" % (value, ours_b.hex(), hand_b.hex()))
        if opt_cls is not None:
            o = opt_cls()
            setattr(o, name, value)
            opt_b = o.SerializeToString()
            if opt_b != ours_b:
                problems.append("%r: optional gives %s, oneof %s"
                                % (value, opt_b.hex(), ours_b.hex()))
            # Across: presence and value survive both ways.
            back = ours_cls.FromString(opt_b)
            if back.WhichOneof("opt_" + name) != name or getattr(back, name) != value:
                problems.append("%r: optional bytes lose presence in our message" % value)
            fwd = opt_cls.FromString(ours_b)
            if not fwd.HasField(name) or getattr(fwd, name) != value:
                problems.append("%r: our bytes lose presence in the optional message"
                                % value)
    return problems


def main():
    pb2, pb2_grpc = flovyn_proto.load()
    check("generated from proto/flovyn.proto with grpc_tools",
          pb2.DESCRIPTOR.name == "flovyn.proto" and hasattr(pb2_grpc, "WorkerLifecycleStub")
          and hasattr(pb2_grpc, "TaskExecutionStub"))
    check_descriptors(pb2)
    check_optional_equivalence(pb2)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
