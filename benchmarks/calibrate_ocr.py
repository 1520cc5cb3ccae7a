"""Quantize the OCR detector to 8-bit integers, calibrated on the calibration half of bench_ocr.py's corpus only.

    python benchmarks/calibrate_ocr.py [--memes 300] [--plain 200] [--every 4]

The detector is nine tenths of the time of an image (benchmarks/RESULTS.md, "OCR"); in 8-bit integers it
runs three times faster on a CPU with VNNI (AVX-512 or AVX-VNNI) and still faster without. Static
quantization needs the range of every activation: they are measured (min-max) on the detection inputs of
every `--every`-th image of the calibration half (memes and text-free photographs), exactly as the engine
prepares them (engine.detection_input). Weights are quantized per channel. The model is written to
src/imagier/ocr/ (engine.DETECTOR), with its licence beside it; bench_ocr.py then reports the other half.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))
import bench_ocr as bench  # noqa: E402
from imagier.ocr import engine  # noqa: E402

# Per-channel weights in QDQ form need opset 13; PaddleOCR's export is opset 11.
OPSET = 13


class _Inputs:
    """The detection inputs of the given images, one at a time (onnxruntime's CalibrationDataReader)."""

    def __init__(self, paths: list[Path]):
        self.paths = iter(paths)

    def get_next(self) -> dict | None:
        path = next(self.paths, None)
        return None if path is None else {"x": engine.detection_input(engine.open_upright(None, path))}


def quantize(images: list[Path], output: Path) -> None:
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    with tempfile.TemporaryDirectory() as tmp:
        upgraded = Path(tmp) / "detector.onnx"
        onnx.save(version_converter.convert_version(onnx.load(engine.wheel_model(engine.FLOAT_DETECTOR)), OPSET),
                  upgraded)
        quantize_static(upgraded, output, _Inputs(images), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax,
                        extra_options={"CalibMaxIntermediateOutputs": 4})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--memes", type=int, default=300)
    parser.add_argument("--plain", type=int, default=200)
    parser.add_argument("--every", type=int, default=4, help="calibrate on every n-th image of the half")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        truth = bench.build_corpus(folder, args.memes, args.plain)
        images = [folder / name for name in sorted(truth) if bench.half(name) == "calibration"][::args.every]
        print(f"calibrating on {len(images)} images of the calibration half")
        quantize(images, engine.DETECTOR)
    print(f"wrote {engine.DETECTOR} ({engine.DETECTOR.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
