#!/usr/bin/env bash
# Regenerates the Python code (messages, gRPC stubs and .pyi type stubs) for
# proto/storydedup/v1/*.proto into service/storydedup/v1/.
# Run from anywhere: `uv run bash proto/generate.sh`. CI runs it and fails
# when the committed code differs.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
out=service
rm -f "$out"/storydedup/v1/*_pb2*.py "$out"/storydedup/v1/*_pb2*.pyi
python -m grpc_tools.protoc \
  --proto_path=proto \
  --python_out="$out" \
  --grpc_python_out="$out" \
  --mypy_out="$out" \
  --mypy_grpc_out="$out" \
  proto/storydedup/v1/*.proto
