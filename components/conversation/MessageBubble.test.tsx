/** The label on an echo's message says who wrote it: the model the server names, or just "AI echo". */
import { render, screen } from '@testing-library/react-native';

import type { ReplyModel } from '@/lib/types';
import { message, MODELS } from '@/test-utils/fixtures';

import { MessageBubble } from './MessageBubble';

function bubble(model?: ReplyModel, role: 'user' | 'assistant' = 'assistant') {
  render(<MessageBubble message={message('r1', role, 'Blooming, love.', model)} echoName="Grandma Rose" speaking="idle" onToggleSpeak={jest.fn()} />);
}

const label = () => screen.getByTestId('ai-label-r1');

describe('MessageBubble: who wrote the echo’s message', () => {
  it.each([
    ['local', MODELS.local, 'AI echo · written by SmolLM2-135M-Instruct (small offline model)', 'Written by an AI echo, with SmolLM2-135M-Instruct, a small offline model'],
    ['openai', MODELS.openai, 'AI echo · written by llama3.2', 'Written by an AI echo, with llama3.2'],
    ['echo', MODELS.echo, "AI echo · Echo's honest answer", "Written by an AI echo: Echo's honest answer"],
  ] as const)('names the model of a %s reply, on screen and to screen readers', (_provider, model, text, spoken) => {
    bubble(model);
    expect(label()).toHaveTextContent(text, { exact: true });
    expect(label().props.accessibilityLabel).toBe(spoken);
  });

  it('says only "AI echo" when the message does not say which model wrote it (older replies, added by hand)', () => {
    bubble();
    expect(label()).toHaveTextContent('AI echo', { exact: true });
    expect(label().props.accessibilityLabel).toBe('Written by an AI echo');
  });

  it('reads the name the server gives, whatever the model', () => {
    bubble({ provider: 'openai', name: 'mistral-small' });
    expect(label()).toHaveTextContent('AI echo · written by mistral-small', { exact: true });
    expect(label().props.accessibilityLabel).toBe('Written by an AI echo, with mistral-small');
  });

  it('does not label the person’s own message', () => {
    bubble(undefined, 'user');
    expect(screen.queryByTestId('ai-label-r1')).toBeNull();
    expect(screen.getByText('You')).toBeTruthy();
  });
});
