const path = require('node:path');

/** The stack this run installed (STACK, from stacks.json): what the suite expects of it. */
const name = process.env.STACK || 'next';
const stacks = require(path.join(__dirname, '..', '..', 'stacks.json'));
if (!stacks[name]) throw new Error(`unknown STACK "${name}"; stacks.json has ${Object.keys(stacks).join(', ')}`);

module.exports = { STACK: name, ...stacks[name] };
