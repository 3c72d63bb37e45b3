// The kubectl plugin as bundled (operator/build.ts → dist/kubectl-cutover.mjs): what the chart's
// in-cluster dashboard runs. From a checkout, operator/bin/kubectl-cutover.js runs the sources.
import { main } from './main.ts';

process.exitCode = await main(process.argv.slice(2));
