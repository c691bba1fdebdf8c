// `npm pack` and `npm publish`: the package's package.json leaves out the `prepare` script. It builds
// a clone (npm install, a git dependency); the package ships dist/ built, and npm 11 would list a
// `prepare` of a tarball as an install script to approve, though it never runs one there.
// `strip` (prepack) keeps the original beside it; `restore` (postpack) puts it back.
import fs from 'node:fs';

const [file, kept] = ['package.json', 'package.json.orig'];
if (process.argv[2] === 'strip') {
  const text = fs.readFileSync(file, 'utf8');
  fs.writeFileSync(kept, text);
  const manifest = JSON.parse(text);
  delete manifest.scripts.prepare;
  fs.writeFileSync(file, `${JSON.stringify(manifest, null, 2)}\n`);
} else if (fs.existsSync(kept)) {
  fs.renameSync(kept, file);
}
