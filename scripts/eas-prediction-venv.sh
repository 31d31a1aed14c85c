#!/usr/bin/env bash
# A separate venv for Alibaba's eas-prediction client (it pins protobuf<=3.20.3, which
# conflicts with onnx/onnxruntime in the project venv). Only the test that checks the
# client against the fake EAS group endpoint uses it; it skips when the venv is absent.
# Usage: scripts/eas-prediction-venv.sh [VENV_DIR]
#   default: $EAS_PREDICTION_VENV, else .eas-prediction-venv in the checkout (git-ignored)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
venv="${1:-${EAS_PREDICTION_VENV:-$here/.eas-prediction-venv}}"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import eas_prediction" 2>/dev/null; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet "eas-prediction==0.36"
"$venv/bin/python" -c "import eas_prediction; print('eas-prediction ready in $venv')"
