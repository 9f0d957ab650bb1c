// Formats files with the workspace's prettier config. Input on stdin: [{ "path", "text" }];
// output on stdout: the formatted texts in the same order. A separate process so the callers
// stay synchronous and CommonJS (prettier 3 loads itself through import()).
import prettier from 'prettier';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const out = [];
for (const { path, text } of JSON.parse(input)) {
  const options = (await prettier.resolveConfig(path)) ?? {};
  out.push(await prettier.format(text, { ...options, filepath: path }));
}
process.stdout.write(JSON.stringify(out));
