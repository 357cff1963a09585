#!/usr/bin/env bash
# The quickstart, end to end: a fresh git repo holding the example training script, three
# tracked runs with different learning rates (the model file stored as an artifact), committed,
# listed and searched; the artifacts pushed to a local-folder remote and fetched back by URI.
# Usage: examples/quickstart/run.sh [DIR]   (default: a new temporary directory)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-$(mktemp -d -t gitml-quickstart.XXXXXX)}
mkdir -p "$dir" && cd "$dir"
echo "== a git repository with the example in $dir"
git init -q
git config user.email >/dev/null || git config user.email "quickstart@example.com"
git config user.name >/dev/null || git config user.name "gitml quickstart"
cp "$here/train.py" "$here/params.yaml" .
printf 'metrics.json\nmodel.json\n' > .gitignore
git add train.py params.yaml .gitignore && git commit -q -m "example training script"
gitml init
storage="$dir.storage"
echo "== object storage: a local folder ($storage), the embedded default; S3 works the same way"
gitml remote add storage "$storage" --default
git add .gitml/config.yaml && git commit -q -m "gitml: artifact remote"
for lr in 0.05 0.5 2.0; do
  sed -i "s/^  lr: .*/  lr: $lr/" params.yaml
  echo "== gitml run (lr=$lr)"
  gitml run --name "lr-$lr" --experiment quickstart --artifact model.json --commit -- python train.py
done
git checkout -q -- params.yaml
echo "== gitml runs list"
gitml runs list --columns params.train.lr,metrics.accuracy
echo "== gitml runs search 'metrics.accuracy > 0.8' --order-by 'metrics.accuracy DESC'"
gitml runs search "metrics.accuracy > 0.8" --order-by "metrics.accuracy DESC"
echo "== git log (each run is a commit holding only its folder)"
git log --oneline | head -5
echo "== the best run"
best=$(gitml runs search --order-by 'metrics.accuracy DESC' -m 1 --csv | sed -n 2p | cut -d, -f1)
gitml runs show "$best"
echo "== gitml status, gitml push (model files go to $storage by content hash)"
gitml status
gitml push
gitml status
echo "== a fresh cache: gitml get runs:/$best/model.json downloads and verifies it"
rm -rf .gitml/cache model.json
gitml ls "runs:/$best"
gitml get "runs:/$best/model.json" -o best-model.json
cat best-model.json; echo
echo "== the registry: register the best run's model as churn v1 and promote it (annotated git tags)"
gitml register churn "runs:/$best/model.json" -m "best of the learning-rate sweep"
gitml promote churn v1 production
gitml models list
git tag -l 'churn*'
echo "== a bare 'origin' and a CI-style clone (depth 1, no tags): gitml get models:/churn/production"
git init -q --bare -b main "$dir.origin.git"
git remote add origin "$dir.origin.git"
git push -q origin HEAD:refs/heads/main --tags
rm -rf "$dir.ci" && git clone -q --depth 1 --no-tags "file://$dir.origin.git" "$dir.ci"
(cd "$dir.ci" && gitml get models:/churn/production -o production-model.json && cmp production-model.json "$dir/best-model.json")
echo "== and from the URL alone, with no clone"
(cd "$(mktemp -d)" && gitml get models:/churn@production --repo "$dir.origin.git" -o model.json && cmp model.json "$dir/best-model.json" && echo "identical bytes")
echo "== review a change: a branch that trains the slow learner 4x longer, compared with $(git symbolic-ref --short HEAD)"
base=$(git symbolic-ref --short HEAD)
printf 'metrics:\n  loss: min\n  accuracy: max\n' >> .gitml/config.yaml
git commit -q -am "gitml: which way is better for each metric"
git checkout -q -b longer-training
sed -i "s/^  lr: .*/  lr: 0.05/; s/^  epochs: .*/  epochs: 120/" params.yaml
git commit -q -am "train the lr=0.05 model for 120 epochs"
gitml run --name lr-0.05 --experiment quickstart --artifact model.json --commit -- python train.py
gitml diff "$base" HEAD
gitml report "$base" HEAD -o "$dir/report/report.md" --title "Train lr=0.05 for 120 epochs: what it does to the model"
git checkout -q "$base"
