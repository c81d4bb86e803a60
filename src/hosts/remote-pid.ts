// A command run over SSH first has its login shell print its own pid (PID_ECHO). sshd makes that shell a
// session leader, so the pid names the command's whole process group: what a kill needs where sshd refuses
// signal requests (OpenSSH does for root logins without privilege separation). A login shell may print
// before it (a motd, an rc file), so the line is looked for in the first PID_SEARCH characters.

export const PID_ECHO = 'echo "@@BB:pid:$$"';
export const PID_SEARCH = 4096;
const LINE = /@@BB:pid:(\d+)\r?\n/;

/** the pid the shell announced, if `text` (output from its start) has the whole line */
export function findPid(text: string): number | undefined {
  const m = LINE.exec(text.slice(0, PID_SEARCH));
  const n = m ? Number(m[1]) : NaN;
  return Number.isSafeInteger(n) && n > 1 ? n : undefined;
}

/** `text` without the pid line */
export function stripPidLine(text: string): string {
  return text.replace(LINE, '');
}
