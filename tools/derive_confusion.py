#!/usr/bin/env python3
"""Derive the SSJF proxy model's confusion matrices for lensim's `confusion` predictor.

Reads the SSJF authors' public prediction files (true vicuna-13b output length, predicted class)
from ../shared/data/predictions/ssjf_lmsys_vicuna13b/ and writes one matrix file per classifier:
rows = true class (by the repository's thresholds), columns = predicted class, counts.

Thresholds (output-token-len-prediction/preprocess_dataset.py in the SSJF repository):
  3 classes: [141, 503)  -> class 0: n < 141, 1: 141 <= n < 503, 2: n >= 503
  5 classes: [42, 141, 294, 503) -> 0: n < 42, 1: 42..140, 2: 141..293, 3: 294..502, 4: >= 503
lensim buckets are given by inclusive upper edges, so n < 141 becomes the edge 140, and the last
bucket's edge is the longest length in the data (511: SSJF keeps 1 < n < 512).

Usage: tools/derive_confusion.py [DATA_DIR] [OUT_DIR]
"""
import csv
import os
import sys

FILES = {
    "ssjf-3class": ("predictions_warmup_cls_1000K.csv", [141, 503]),
    "ssjf-5class": ("predictions_warmup_multi_cls_1000K.csv", [42, 141, 294, 503]),
}


def true_class(n, thresholds):
    for i, t in enumerate(thresholds):
        if n < t:
            return i
    return len(thresholds)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    data = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
        "LENSIM_DATA", os.path.join(here, "..", "..", "shared", "data"))
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "..", "experiments", "predictors")
    src = os.path.join(data, "predictions", "ssjf_lmsys_vicuna13b")
    for name, (fname, th) in FILES.items():
        k = len(th) + 1
        m = [[0] * k for _ in range(k)]
        longest, rows = 0, 0
        with open(os.path.join(src, fname), newline="") as f:
            for row in csv.DictReader(f):
                n = int(row["output_token_length"])
                p = int(float(row["predicted_length"]))
                m[true_class(n, th)][p] += 1
                longest = max(longest, n)
                rows += 1
        edges = [t - 1 for t in th] + [longest]
        acc = sum(m[i][i] for i in range(k)) / rows
        path = os.path.join(out, name + ".txt")
        with open(path, "w") as f:
            f.write(f"# {name}: SSJF BERT proxy model, vicuna-13b on LMSYS-Chat-1M, {rows} rows\n")
            f.write(f"# source: ../shared/data/predictions/ssjf_lmsys_vicuna13b/{fname}\n")
            f.write("# derived by tools/derive_confusion.py; rows = true bucket, columns = predicted\n")
            f.write(f"# accuracy {acc:.4f}\n")
            f.write("edges: " + " ".join(str(e) for e in edges) + "\n")
            for r in m:
                f.write(" ".join(str(v) for v in r) + "\n")
        print(f"{path}: {k} classes, accuracy {acc:.4f}")


if __name__ == "__main__":
    main()
