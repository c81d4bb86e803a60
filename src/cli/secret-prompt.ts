import { BillboardError } from '../model/errors.js';
import { keySourceFrom } from '../store/key-source.js';

/**
 * Read a secret from the terminal without echoing it (the passphrase must not end up in the environment or the
 * shell history, which is what typing it after BILLBOARD_PASSPHRASE= does). Ctrl-C or Ctrl-D cancels; backspace
 * edits. stdin is left paused and out of raw mode for whoever reads it next (Ink).
 */
export function readSecret(
  question: string,
  input: NodeJS.ReadStream = process.stdin,
  output: NodeJS.WriteStream = process.stderr,
): Promise<string> {
  return new Promise((resolve, reject) => {
    output.write(question);
    const wasRaw = input.isRaw;
    input.setRawMode?.(true);
    input.setEncoding('utf8');
    input.resume();
    let text = '';
    const finish = (err?: Error): void => {
      input.off('data', onData);
      input.setRawMode?.(wasRaw ?? false);
      input.pause();
      output.write('\n');
      if (err) reject(err);
      else resolve(text);
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003' || ch === '\u0004') return finish(new BillboardError('USAGE', 'no passphrase given'));
        if (ch === '\u007f' || ch === '\b') text = [...text].slice(0, -1).join('');
        else if (ch >= ' ' && text.length < 1024) text += ch;
      }
    };
    input.on('data', onData);
  });
}

/**
 * The environment a terminal session opens the store with: as given when it names a key (BILLBOARD_PASSPHRASE, or
 * store.keyFile), else with the passphrase asked on the terminal (twice when `confirm`, for a new store).
 */
export async function withPromptedPassphrase(
  env: NodeJS.ProcessEnv,
  keyFile: string | undefined,
  confirm = false,
): Promise<NodeJS.ProcessEnv> {
  if (keySourceFrom(env, keyFile) || !process.stdin.isTTY || !process.stderr.isTTY) return env;
  const passphrase = await readSecret('store passphrase: ');
  if (confirm && (await readSecret('again, to confirm: ')) !== passphrase) {
    throw new BillboardError('USAGE', 'the two passphrases differ: nothing created');
  }
  return { ...env, BILLBOARD_PASSPHRASE: passphrase };
}
