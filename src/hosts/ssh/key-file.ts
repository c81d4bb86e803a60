import { open } from 'node:fs/promises';

// A private key file is used only when OpenSSH would use it: owned by this user and not accessible by group or
// others. The checks run on the opened file (fstat), so the file read is the file checked.

/** Why a private key file is refused (one line naming the file), or undefined when it is fine. */
export function keyFileProblem(
  file: string,
  st: { mode: number; uid: number; isFile(): boolean },
  uid = process.getuid?.(),
): string | undefined {
  if (!st.isFile()) return `identity file ${file} is not a regular file`;
  if (uid !== undefined && st.uid !== uid) return `identity file ${file} is owned by uid ${st.uid}, not by this user (uid ${uid})`;
  const mode = st.mode & 0o777;
  if (mode & 0o077) {
    const m = `0${mode.toString(8).padStart(3, '0')}`;
    return `identity file ${file} has mode ${m}: a private key must not be accessible by group or others (chmod 600 ${file})`;
  }
  return undefined;
}

/** Read a private key file after checking it; throws an Error with one line saying why it is refused. */
export async function readKeyFile(file: string): Promise<Buffer> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    throw new Error(`cannot read identity file ${file}: ${(e as NodeJS.ErrnoException).code ?? e}`, { cause: e });
  }
  try {
    const problem = keyFileProblem(file, await fh.stat());
    if (problem) throw new Error(problem);
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}
