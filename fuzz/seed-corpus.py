#!/usr/bin/env python3
"""Writes the seed corpora (fuzz/corpus/TARGET/*) from the examples, the spec crate's fixtures and
hand-picked cases from the crates' tests. Run from anywhere; files are named after their origin.
Inputs the fuzzer found and `cargo fuzz cmin` kept are added beside them (named by hash)."""
import glob
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def rel(path):
    return os.path.relpath(path, ROOT).replace("/", "_")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


yaml_files = sorted(
    glob.glob(os.path.join(ROOT, "examples", "**", "*.yaml"), recursive=True)
    + glob.glob(os.path.join(ROOT, "crates", "spec", "tests", "fixtures", "**", "*.yaml"), recursive=True)
)
for path in yaml_files:
    text = read(path)
    if os.path.basename(path) == "component.yaml":
        write("component", rel(path), text)
    elif re.search(r"^uri:", text, re.M):
        write("seed", rel(path), text)
    else:
        write("workflow", rel(path), text)

# Expressions: every ${{ }} template of the YAML files, and hand-picked ones.
exprs = set()
for path in yaml_files:
    for m in re.finditer(r"\$\{\{.*?\}\}", read(path)):
        exprs.add(m.group(0))
exprs.update([
    "inputs.who || 'latest'",
    "actions.build-linux.outputs.image-tag == 'v1' && !inputs.flag",
    "format('{0}-{1} {{x}}', inputs.who, inputs.count)",
    "format(inputs.fmt, inputs.big, inputs.big)",
    "join(inputs.list, ', ') != ''",
    "contains(toJSON(trigger.payload), 'c1')",
    "fromJSON(inputs.json).a.b[1] >= 20",
    "startsWith(inputs.who, 'wo') || endsWith(inputs.who, 'ld')",
    "matrix['os name'] == \"linux\\n\"",
    "success() && (failure() || cancelled()) || always()",
    "1.5e3 < 2 == true != null",
    "'it''s' == \"it's\"",
    "${{ inputs.count }}",
    "text ${{ inputs.who }} and ${{ inputs.nums[0] }} }} ${{ '${{' }}",
    "${{ failure() }}",
    "trigger.payload.commits[0]['id']",
])
for i, e in enumerate(sorted(exprs)):
    write("expr", f"expr-{i:03}", e)

# Step output: the first byte chooses chunking (low 6 bits), stream mixing (0x40) and whether
# declared outputs are required (0x80).
cout = {
    "plain": "[COUT] s = hello\n[COUT] i=42\n[COUT]f = 2.5\n[COUT] b = TRUE\n[COUT] j = {\"a\": [1]}\nlog line\n",
    "heredoc": "[COUT] j<<EOF\n{\n  \"a\": 1\n}\nEOF\n[COUT] k << END\nsecret\r\nEND\r\n",
    "result": "[COUT] CO_RESULT = false\n[COUT] CO_RESULT = maybe\n[COUT] CO_RESULT=true\n",
    "bad": "[COUT]\n[COUT] =x\n[COUT] 9bad = 1\n[COUT] a b = c\n[COUT] x<<\n[COUT] open<<EOF\nnever closed",
    "crlf": "\r\n\r\r\n[COUT] s = a\rb\r\n\xc3\xa9\xff\xfe\n",
    "repeat": "".join(f"[COUT] k{i} = {i}\n" for i in range(40)),
}
for i, (name, text) in enumerate(cout.items()):
    write("cout", f"cout-{name}", bytes([i * 37 % 256]) + text.encode("utf-8", "surrogateescape"))
write("cout", "cout-invalid-utf8", b"\x05[COUT] s = \xe2\x82\n\xf0\x9f\x98\x80[COUT] i = 1\n")

co_data = {
    "simple": "git-url=https://example.org/r.git entry-path=.",
    "quoted": 'msg="a b \\"c\\" \\\\ \\n\\t\\r" empty="" eq=a=b',
    "spaces": "  a=1\t\tb=2 \n c=3  ",
    "errors": 'novalue k="unterminated',
    "escape": 'k="\\x"',
    "glued": 'k="a"b',
    "pairs": "name\tworld\ncount\t3\nmsg\thello there\nquote\t\"\\\nempty\t\n",
    "unicode": "é=ü\u00a0x k=\u2003",
}
for name, text in co_data.items():
    write("co_data", f"co_data-{name}", text)

crons = [
    "* * * * *", "*/15 * * * *", "5-10/2 * * * *", "0,30 9-10 * * *", "0 0 1 * *",
    "0 12 * * mon,WED,Fri", "0 0 1 JAN,jul *", "0 0 1 mar-may/2 *", "0 0 * * 7", "0 0 * * sun",
    "@hourly", "@daily", "@weekly", "@monthly", "@yearly", "0 0 29 2 *", "0 0 30 2 *",
    "0 0 31 * 1-5", "*/61 * * * *", "0 0 L * *", "0 0 * * 1#2", "5/15 * * * *", "10-5 * * * *",
    "0 0 0 0 0 0", "0 3 * * *\nEurope/Berlin", "30 2 * * *\nAmerica/New_York",
    "*/15 * * * *\nAustralia/Lord_Howe", "0 9 * * *\nAsia/Kolkata", "0 0 * * *\nNot/AZone",
]
for i, c in enumerate(crons):
    write("cron", f"cron-{i:02}", c)

push = '{"ref":"refs/heads/main","after":"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c","repository":{"full_name":"octo/app"}}'
webhooks = {
    "github-push": f"github\nX-GitHub-Event: push\nX-GitHub-Delivery: 72d3162e\nContent-Type: application/json\nX-Fuzz-Branches: main, release/**\n\n{push}",
    "github-pr": 'github\nX-GitHub-Event: pull_request\nX-Fuzz-Events: pull_request\n\n{"action":"opened","pull_request":{"base":{"ref":"main"}}}',
    "github-form": "github\nX-GitHub-Event: push\nContent-Type: application/x-www-form-urlencoded\n\npayload=%7B%22ref%22%3A%22refs%2Ftags%2Fv1%22%7D&x=1+2",
    "github-create": 'github\nX-GitHub-Event: create\nX-Fuzz-Events: *\n\n{"ref":"feature/x","ref_type":"branch"}',
    "github-bad-signature": "github\nX-Hub-Signature-256: sha256=00\nX-GitHub-Event: push\n\n{}",
    "github-ping": "github\nX-GitHub-Event: ping\n\n{}",
    "gitlab-push": 'gitlab\nX-Gitlab-Event: Push Hook\nX-Gitlab-Event-UUID: 1a2b\n\n{"ref":"refs/heads/main"}',
    "gitlab-mr": 'gitlab\nX-Gitlab-Event: Merge Request Hook\nX-Fuzz-Events: merge_request\n\n{"object_attributes":{"target_branch":"main"}}',
    "gitlab-pipeline": 'gitlab\nX-Gitlab-Event: Pipeline Hook\nX-Fuzz-Events: pipeline\n\n{"object_attributes":{"ref":"dev","tag":false}}',
    "gitlab-bad-token": "gitlab\nX-Gitlab-Token: nope\nX-Gitlab-Event: Push Hook\n\n{}",
    "generic": 'generic\nX-ContainerOps-Delivery: d-1\n\n{"any":["json",1,null]}',
    "generic-empty": "generic\n\n \n",
}
for name, text in webhooks.items():
    write("webhook", f"webhook-{name}", text)

masks = {
    "plain": "hunter2\x01tok\0login with hunter2 and tok",
    "multiline": "-----BEGIN KEY-----\nabcdefgh\n-----END KEY-----\0line abcdefgh here",
    "base64": "user:pass\0Authorization: Basic dXNlcjpwYXNz",
    "escaped": 'p@ss "w\\rd"\0{"password":"p@ss \\"w\\\\rd\\""} url=p%40ss%20%22w%5Crd%22',
    "overlap": "abc\x01cde\0xxabcdexx",
    "unicode": "pässwörd\x01\u2603\0pässwörd \\u2603 p%C3%A4ssw%C3%B6rd",
}
for name, text in masks.items():
    write("mask", f"mask-{name}", text)
