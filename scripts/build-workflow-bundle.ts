// Production workers load this prebuilt bundle (WORKFLOW_BUNDLE_PATH) instead of bundling workflows/ at start.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { workflowsPath } from '../worker/worker.js';
import { projectRoot } from './stack/paths.js';

const outputPath = path.resolve(projectRoot, process.argv[2] ?? 'dist/workflow-bundle.js');
const { code } = await bundleWorkflowCode({ workflowsPath });
mkdirSync(path.dirname(outputPath), { recursive: true });
writeFileSync(outputPath, code);
process.stdout.write(
  `workflow bundle written to ${path.relative(projectRoot, outputPath)} (${(code.length / 1024).toFixed(0)} KiB)\n`,
);
