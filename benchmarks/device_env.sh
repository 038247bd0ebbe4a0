# Source on a lent GPU machine (no network) to use the wheels carried in .whl/:
#   run(carry=[".whl"], command="source benchmarks/device_env.sh && python benchmarks/...")
# .whl/ (ignored by git) holds diffusers and apache-tvm-ffi wheels, flashinfer.tar.xz (the
# stripped flashinfer package, see docs/gpu-notes.md) and optionally fiws.tar.xz (a
# FlashInfer JIT cache from an earlier call, which skips the ~80 s prefill build).
set -e
PY_TARGET=/tmp/vqeval-py
mkdir -p "$PY_TARGET" /tmp/fiws-base
if [ ! -d "$PY_TARGET/diffusers" ]; then
  python -m pip install -q --no-deps --no-index --target "$PY_TARGET" .whl/*.whl
  tar -xJf .whl/flashinfer.tar.xz -C "$PY_TARGET"
fi
if [ -f .whl/fiws.tar.xz ] && [ ! -d /tmp/fiws-base/fiws ]; then
  tar -xJf .whl/fiws.tar.xz -C /tmp/fiws-base
fi
export PYTHONPATH="$PY_TARGET:$PWD${PYTHONPATH:+:$PYTHONPATH}"
export FLASHINFER_WORKSPACE_BASE=/tmp/fiws-base/fiws
set +e
