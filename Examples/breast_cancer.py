#!/usr/bin/env python3
"""The Wisconsin diagnostic breast cancer table (569 × 30, from Debian's python3-sklearn) as
plain CSV files with a header, for `vae`'s tabular anomaly-detection walk-through:

  bc-train.csv  70% of the benign rows (the normal class), seeded
  bc-test.csv   the other 30% of the benign rows and every malignant row

Each has the 30 features and a `diagnosis` column (benign / malignant).

  python3 Examples/breast_cancer.py [OUT_FOLDER]            # writes the two files
  python3 Examples/breast_cancer.py OUT_FOLDER --baselines  # also fits the classic detectors
                                                            # and two linear density models
"""
import csv, os, random, sys

SOURCE = "/usr/lib/python3/dist-packages/sklearn/datasets/data/breast_cancer.csv"
MEASURES = ["radius", "texture", "perimeter", "area", "smoothness", "compactness", "concavity",
            "concave points", "symmetry", "fractal dimension"]
NAMES = [f"mean {m}" for m in MEASURES] + [f"{m} error" for m in MEASURES] + [f"worst {m}" for m in MEASURES]


def rows():
    with open(SOURCE) as f:
        reader = csv.reader(f)
        count, features, *classes = next(reader)  # "569,30,malignant,benign"
        assert int(features) == len(NAMES)
        return [(row[:-1], classes[int(row[-1])]) for row in reader]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("--") else "."
    os.makedirs(out, exist_ok=True)
    data = rows()
    benign = [r for r in data if r[1] == "benign"]
    malignant = [r for r in data if r[1] == "malignant"]
    random.Random(0).shuffle(benign)
    cut = round(0.7 * len(benign))
    splits = {"bc-train.csv": benign[:cut], "bc-test.csv": benign[cut:] + malignant}
    for name, part in splits.items():
        with open(os.path.join(out, name), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(NAMES + ["diagnosis"])
            for features, label in part:
                w.writerow(features + [label])
        print(f"wrote {os.path.join(out, name)}: {len(part)} rows")
    if "--baselines" in sys.argv:
        import numpy as np
        from sklearn.decomposition import PCA, FactorAnalysis
        from sklearn.ensemble import IsolationForest
        from sklearn.metrics import roc_auc_score
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import OneClassSVM
        train = np.array([f for f, _ in splits["bc-train.csv"]], float)
        test = np.array([f for f, _ in splits["bc-test.csv"]], float)
        anomalous = np.array([l == "malignant" for _, l in splits["bc-test.csv"]])
        scaler = StandardScaler().fit(train)
        forest = IsolationForest(random_state=0).fit(scaler.transform(train))
        svm = OneClassSVM(gamma="scale", nu=0.1).fit(scaler.transform(train))
        print(f"isolation forest ROC AUC {roc_auc_score(anomalous, -forest.score_samples(scaler.transform(test))):.4f}")
        print(f"one-class SVM    ROC AUC {roc_auc_score(anomalous, -svm.score_samples(scaler.transform(test))):.4f}")
        # Linear density models with 4 components: one noise variance for all features, or one per feature.
        ppca = PCA(4).fit(scaler.transform(train))
        fa = FactorAnalysis(4, random_state=0).fit(scaler.transform(train))
        print(f"probabilistic PCA (4) ROC AUC {roc_auc_score(anomalous, -ppca.score_samples(scaler.transform(test))):.4f}")
        print(f"factor analysis (4)   ROC AUC {roc_auc_score(anomalous, -fa.score_samples(scaler.transform(test))):.4f}")


if __name__ == "__main__":
    main()
