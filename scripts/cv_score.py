#!/usr/bin/python3
"""Score a K-fold speaker cross-validation run of scripts/cv_default_recipe.sh.

Usage: scripts/cv_score.py K OUT_DIR [OUT_DIR...]

With one OUT_DIR it prints what cv_default_recipe.sh prints. With several,
run with the same folds, it scores their ensemble: each recording's logit
(log p_male - log p_female) is the mean of the runs' logits. That is exactly
what `voxgender ensemble` of the runs' models gives, since an ensemble
averages its members' log-probabilities on every window and predict
averages windows, both linear, before the final softmax.
"""
import collections
import json
import math
import os
import sys


def load(k, outs, suffix):
    """The fold's recordings with the ensemble's p_male."""
    runs = [{r['path']: r for r in json.load(open(f'{o}/eval{k}{suffix}.json'))['per_recording']}
            for o in outs]
    if any(set(r) != set(runs[0]) for r in runs):
        sys.exit(f'cv_score: fold {k}{suffix}: the runs classified different recordings')
    for path, r in runs[0].items():
        logit = 0.0
        for run in runs:
            p = min(max(run[path]['p_male'], 1e-12), 1 - 1e-12)
            logit += math.log(p) - math.log1p(-p)
        yield r['speaker'], r['gender'], 1 / (1 + math.exp(-logit / len(runs)))


def score(K, outs, suffix):
    acc, ll, gender = collections.defaultdict(list), collections.defaultdict(list), {}
    for k in range(K):
        for speaker, g, p_male in load(k, outs, suffix):
            y = g == 'male'
            p = min(max(p_male, 1e-6), 1 - 1e-6)
            acc[speaker].append((p > 0.5) == y)
            ll[speaker].append(-math.log(p if y else 1 - p))
            gender[speaker] = g

    def balanced(v):  # mean over classes of the mean over speakers of the mean over recordings
        m = {g: [sum(v[s]) / len(v[s]) for s in v if gender[s] == g] for g in ('female', 'male')}
        return [sum(x) / len(x) for x in (m['female'], m['male'])]
    rf, rm = balanced(acc)
    lf, lm = balanced(ll)
    return acc, gender, rf, rm, (lf + lm) / 2


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__.strip().splitlines()[2])
    K, outs = int(sys.argv[1]), sys.argv[2:]
    acc, gender, rf, rm, ll = score(K, outs, '')
    print(f"{K}-fold CV over {len(acc)} speakers: speaker-balanced accuracy {100 * (rf + rm) / 2:.1f}% "
          f"(speakers F {100 * rf:.1f}, M {100 * rm:.1f}); speaker-balanced log-loss {ll:.4f}")
    wrong = sorted((sum(a) / len(a), s) for s, a in acc.items() if not all(a))
    print("wrong: " + ", ".join(f"{s} ({gender[s][0]}) {100 * a:.0f}%" for a, s in wrong))
    for c in ('telephone', 'noise10', 'opus12'):
        if all(os.path.exists(f'{o}/eval{k}.{c}.json') for k in range(K) for o in outs):
            _, _, f, m, l = score(K, outs, '.' + c)
            print(f"{c}: speaker-balanced accuracy {100 * (f + m) / 2:.1f}% (speakers F {100 * f:.1f}, "
                  f"M {100 * m:.1f}); log-loss {l:.4f}")


main()
