/**
 * The label on an echo's message, saying who wrote it: "AI echo", and when the server says which model
 * wrote the reply, that too ("AI echo · written by llama3.2"). The web page (backend/static/js/dom.js) words
 * it the same way.
 */
import type { ReplyModel } from './types';

export interface AiLabel {
  /** Shown in the bubble. */
  text: string;
  /** Read by screen readers: the same facts in a sentence, without the "·". */
  accessibilityLabel: string;
}

/** Who wrote an echo's reply, for its label; without a model (older replies, messages added by hand) just "AI echo". */
export function aiLabel(model: ReplyModel | null | undefined): AiLabel {
  const name = typeof model?.name === 'string' ? model.name.trim() : '';
  switch (model?.provider) {
    case 'echo':
      return { text: "AI echo · Echo's honest answer", accessibilityLabel: "Written by an AI echo: Echo's honest answer" };
    case 'local':
      return name
        ? {
            text: `AI echo · written by ${name} (small offline model)`,
            accessibilityLabel: `Written by an AI echo, with ${name}, a small offline model`,
          }
        : { text: 'AI echo · written by a small offline model', accessibilityLabel: 'Written by an AI echo, with a small offline model' };
    default:
      return name
        ? { text: `AI echo · written by ${name}`, accessibilityLabel: `Written by an AI echo, with ${name}` }
        : { text: 'AI echo', accessibilityLabel: 'Written by an AI echo' };
  }
}
