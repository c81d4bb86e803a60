import { open } from 'node:fs/promises';
import { secretFileProblem } from '../../model/secret-file.js';

/** Read a private key file after checking it; throws an Error with one line saying why it is refused. */
export async function readKeyFile(file: string): Promise<Buffer> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    throw new Error(`cannot read identity file ${file}: ${(e as NodeJS.ErrnoException).code ?? e}`, { cause: e });
  }
  try {
    const problem = secretFileProblem('identity file', file, await fh.stat());
    if (problem) throw new Error(problem);
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}
