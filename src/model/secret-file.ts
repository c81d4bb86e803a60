/**
 * Why a file that holds a secret (an SSH identity file, the store's key file) is refused, or undefined when it is
 * fine. It is used only as OpenSSH uses a private key: a regular file owned by this user and not accessible by group
 * or others, since anyone else who can read it holds the secret. Callers check the opened file (fstat), so the file
 * read is the file checked. `what` names the file in the one-line answer ("identity file", "store.keyFile").
 */
export function secretFileProblem(
  what: string,
  file: string,
  st: { mode: number; uid: number; isFile(): boolean },
  uid = process.getuid?.(),
): string | undefined {
  if (!st.isFile()) return `${what} ${file} is not a regular file`;
  if (uid !== undefined && st.uid !== uid) {
    return `${what} ${file} is owned by uid ${st.uid}, not by this user (uid ${uid}); refusing to use it`;
  }
  const mode = st.mode & 0o777;
  if (mode & 0o077) {
    const octal = `0${mode.toString(8).padStart(3, '0')}`;
    return `${what} ${file} has mode ${octal}: a key must not be accessible by group or others (chmod 600 ${file})`;
  }
  return undefined;
}
