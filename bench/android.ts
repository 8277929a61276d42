/**
 * The Kotlin SDK's bench (sdk/android/src/test/kotlin/dev/pinctl/android/Bench.kt): compiled by
 * Maven, run on the JVM; it prints its own lines in the format of run.ts.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

function has(cmd: string): boolean {
  try {
    execFileSync(cmd, ['-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function benchKotlinSdk(root: string): void {
  if (!has('mvn') || !has('java')) {
    console.log('skipped Kotlin SDK bench: mvn or java is not installed');
    return;
  }
  const project = join(root, 'sdk', 'android');
  const cpFile = join(project, 'target', 'bench-classpath.txt');
  execFileSync('mvn', ['-q', '-f', project, 'test-compile', 'dependency:build-classpath', `-Dmdep.outputFile=${cpFile}`, '-Dmdep.includeScope=test'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const cp = [join(project, 'target', 'classes'), join(project, 'target', 'test-classes'), readFileSync(cpFile, 'utf8').trim()].join(delimiter);
  execFileSync('java', ['-cp', cp, 'dev.pinctl.android.BenchKt'], { stdio: ['ignore', 'inherit', 'inherit'] });
}
