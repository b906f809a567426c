import { act, fireEvent, screen, within } from '@testing-library/react-native';
import * as Clipboard from 'expo-clipboard';

import { ApiError } from '@/lib/api';
import { confirmAsync } from '@/lib/confirm';
import { formatAgo } from '@/lib/format';
import type { ApiKey } from '@/lib/types';
import { deferred, makeMockApi, type MockApi } from '@/test-utils/api';
import { ECHO, VOICE } from '@/test-utils/fixtures';
import { renderWithSession } from '@/test-utils/render';

import { ConnectAppsScreen, KEY_WARNING, keyWhen, onlyThisDevice } from './ConnectAppsScreen';

jest.mock('@/lib/confirm', () => ({ confirmAsync: jest.fn() }));
jest.mock('expo-router', () => require('@/test-utils/router').routerModule());
jest.mock('expo-clipboard', () => ({ setStringAsync: jest.fn(async () => true) }));

const SECRET = 'echo_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde';
const NOW = Date.now();
const ago = (ms: number) => new Date(NOW - ms).toISOString();

const OLD_KEY: ApiKey = { _id: 'k1', name: 'Kitchen speaker', prefix: 'echo_Zz9Yy8X', created_at: ago(3 * 86_400_000), last_used_at: ago(5 * 60_000) };
const NEW_KEY: ApiKey = { _id: 'k2', name: 'Chat app', prefix: SECRET.slice(0, 12), created_at: ago(0), last_used_at: null };

function setUp(keys: ApiKey[] = [OLD_KEY]): MockApi {
  const api = makeMockApi();
  api.listApiKeys.mockResolvedValue({ success: true, api_keys: keys, count: keys.length, total: keys.length, limit: 100, offset: 0 });
  api.listVoiceModels.mockResolvedValue({ success: true, voice_models: [VOICE], count: 1 });
  api.listEchos.mockResolvedValue({
    success: true,
    echos: [ECHO, { ...ECHO, _id: 'e2', name: 'Uncle Bob', voice_model_id: null, voice_status: 'deleted' }],
    count: 2,
  });
  return api;
}

async function renderScreen(api: MockApi) {
  const result = renderWithSession(<ConnectAppsScreen />, { api });
  await act(async () => {});
  return result;
}

beforeEach(() => jest.clearAllMocks());

describe('formatAgo and keyWhen', () => {
  it('say when in words', () => {
    expect(formatAgo(ago(10_000), NOW)).toBe('just now');
    expect(formatAgo(ago(60_000), NOW)).toBe('1 minute ago');
    expect(formatAgo(ago(5 * 60_000), NOW)).toBe('5 minutes ago');
    expect(formatAgo(ago(3 * 3_600_000), NOW)).toBe('3 hours ago');
    expect(formatAgo(ago(30 * 3_600_000), NOW)).toBe('yesterday');
    expect(formatAgo(ago(4 * 86_400_000), NOW)).toBe('4 days ago');
    expect(formatAgo('2020-03-04T10:00:00Z', NOW)).toMatch(/^on .*2020/);
    expect(formatAgo(null, NOW)).toBe('');
    expect(keyWhen(OLD_KEY, NOW)).toBe('Made 3 days ago · Last used 5 minutes ago');
    expect(keyWhen(NEW_KEY, NOW)).toBe('Made just now · Not used yet');
  });

  it('knows an address that only works on this device', () => {
    expect(onlyThisDevice('http://localhost:5000/v1')).toBe(true);
    expect(onlyThisDevice('http://127.0.0.1:5000/v1')).toBe(true);
    expect(onlyThisDevice('http://192.168.1.20:5000/v1')).toBe(false);
    expect(onlyThisDevice('https://echo.example.org/v1')).toBe(false);
  });
});

describe('ConnectAppsScreen', () => {
  it('says what it is for, with the address, the model and each voice and echo id to copy', async () => {
    const api = setUp();
    await renderScreen(api);
    expect(screen.getByText(/home assistant reading the weather/)).toBeTruthy();
    expect(screen.getByText(/OpenAI/)).toBeTruthy();
    expect(screen.getByTestId('connect-address').props.children).toBe('http://localhost:5000/v1');
    expect(screen.getByTestId('address-this-device')).toBeTruthy();
    expect(screen.getByText('echo-tts')).toBeTruthy();

    fireEvent.press(screen.getByTestId('copy-address'));
    await act(async () => {});
    expect(Clipboard.setStringAsync).toHaveBeenCalledWith('http://localhost:5000/v1');
    expect(screen.getByTestId('copied-address')).toBeTruthy();

    // The voice's id, and the echo that can speak (not the one whose voice was deleted).
    const voice = screen.getByTestId('voice-id-m1');
    expect(within(voice).getByText('Grandma Rose')).toBeTruthy();
    expect(within(voice).getByText('m1')).toBeTruthy();
    const echo = screen.getByTestId('echo-id-e1');
    expect(within(echo).getByText('Speaks in the voice “Grandma Rose”')).toBeTruthy();
    expect(screen.queryByTestId('echo-id-e2')).toBeNull();
    fireEvent.press(screen.getByLabelText('Copy the id of the echo “Grandma Rose”'));
    await act(async () => {});
    expect(Clipboard.setStringAsync).toHaveBeenLastCalledWith('e1');
    expect(screen.getByTestId('copied-echo-e1')).toBeTruthy();
  });

  it('lists the keys by name and first characters, with when they were made and last used', async () => {
    const api = setUp([OLD_KEY]);
    await renderScreen(api);
    const item = screen.getByTestId('key-k1');
    expect(within(item).getByText('Kitchen speaker')).toBeTruthy();
    expect(screen.getByTestId('key-prefix-k1').props.children).toEqual(['Starts with ', 'echo_Zz9Yy8X', '…']);
    expect(screen.getByTestId('key-when-k1').props.children).toBe('Made 3 days ago · Last used 5 minutes ago');
    expect(screen.queryByTestId('keys-empty')).toBeNull();
  });

  it('makes a key and shows it once, with the warning and a Copy button', async () => {
    const api = setUp([]);
    await renderScreen(api);
    expect(screen.getByTestId('keys-empty')).toBeTruthy();

    // A key needs a name.
    fireEvent.press(screen.getByTestId('key-make'));
    expect(screen.getByText('Give the key a name, such as the app or the room it is for.')).toBeTruthy();
    expect(api.createApiKey).not.toHaveBeenCalled();

    const made = deferred<{ success: true; key: string; api_key: ApiKey }>();
    api.createApiKey.mockReturnValue(made.promise);
    fireEvent.changeText(screen.getByTestId('key-name'), '  Chat app ');
    fireEvent.press(screen.getByTestId('key-make'));
    expect(api.createApiKey).toHaveBeenCalledWith('Chat app');
    expect(screen.getByTestId('key-make').props.accessibilityState.busy).toBe(true);
    await act(async () => made.resolve({ success: true, key: SECRET, api_key: NEW_KEY }));

    const box = screen.getByTestId('key-new');
    expect(within(box).getByText('Your new key “Chat app”')).toBeTruthy();
    expect(screen.getByTestId('key-new-warning').props.children).toBe(KEY_WARNING);
    expect(KEY_WARNING).toBe('Copy this key now: Echo will not show it again. Anyone with it can speak in your voices.');
    expect(screen.getByTestId('key-new-secret').props.children).toBe(SECRET);
    expect(screen.getByTestId('key-name').props.value).toBe('');
    expect(screen.getByTestId('key-k2')).toBeTruthy();
    expect(screen.getByTestId('key-when-k2').props.children).toBe('Made just now · Not used yet');

    fireEvent.press(screen.getByTestId('key-new-copy'));
    await act(async () => {});
    expect(Clipboard.setStringAsync).toHaveBeenCalledWith(SECRET);
    expect(screen.getByTestId('copied-key')).toBeTruthy();

    // Done: the key is gone from the screen for good; the list keeps its name and first characters.
    fireEvent.press(screen.getByTestId('key-new-done'));
    expect(screen.queryByTestId('key-new')).toBeNull();
    expect(screen.queryByText(SECRET)).toBeNull();
    expect(screen.getByTestId('key-k2')).toBeTruthy();
  });

  it('says when a key cannot be made, or copied', async () => {
    const api = setUp([]);
    api.createApiKey.mockRejectedValueOnce(
      new ApiError(400, 'too_many_keys', 'You already have 20 API keys, the most you can keep; revoke one you no longer use.'),
    );
    await renderScreen(api);
    fireEvent.changeText(screen.getByTestId('key-name'), 'One more');
    await act(async () => fireEvent.press(screen.getByTestId('key-make')));
    expect(screen.getByTestId('key-create-error')).toBeTruthy();
    expect(screen.getByText(/Could not make the key: You already have 20 API keys/)).toBeTruthy();
    expect(screen.queryByTestId('key-new')).toBeNull();

    api.createApiKey.mockResolvedValueOnce({ success: true, key: SECRET, api_key: NEW_KEY });
    await act(async () => fireEvent.press(screen.getByTestId('key-make')));
    jest.mocked(Clipboard.setStringAsync).mockResolvedValueOnce(false);
    await act(async () => fireEvent.press(screen.getByTestId('key-new-copy')));
    expect(screen.getByTestId('copy-failed-key')).toBeTruthy();
  });

  it('revokes a key after confirmation, saying it stops working at once', async () => {
    const api = setUp([NEW_KEY, OLD_KEY]);
    api.revokeApiKey.mockResolvedValue({ success: true });
    jest.mocked(confirmAsync).mockResolvedValueOnce(false).mockResolvedValueOnce(true);
    await renderScreen(api);

    await act(async () => fireEvent.press(screen.getByLabelText('Revoke the key “Kitchen speaker”')));
    expect(confirmAsync).toHaveBeenCalledWith('Revoke the key “Kitchen speaker”?', expect.stringContaining('It stops working at once'), 'Revoke');
    expect(api.revokeApiKey).not.toHaveBeenCalled();
    expect(screen.getByTestId('key-k1')).toBeTruthy();

    await act(async () => fireEvent.press(screen.getByLabelText('Revoke the key “Kitchen speaker”')));
    expect(api.revokeApiKey).toHaveBeenCalledWith('k1');
    expect(screen.queryByTestId('key-k1')).toBeNull();
    expect(screen.getByTestId('key-k2')).toBeTruthy();
    expect(screen.getByText('Revoked “Kitchen speaker”. It no longer works.')).toBeTruthy();
  });

  it('keeps a key whose revoking failed, and says why', async () => {
    const api = setUp([OLD_KEY]);
    api.revokeApiKey.mockRejectedValue(new ApiError(503, 'database_unavailable', 'The database is unavailable.'));
    jest.mocked(confirmAsync).mockResolvedValue(true);
    await renderScreen(api);
    await act(async () => fireEvent.press(screen.getByTestId('key-revoke-k1')));
    expect(screen.getByText('Could not revoke “Kitchen speaker”: The database is unavailable.')).toBeTruthy();
    expect(screen.getByTestId('key-k1')).toBeTruthy();
  });

  it('says when the keys cannot be loaded', async () => {
    const api = setUp();
    api.listApiKeys.mockRejectedValue(new ApiError(0, 'network_error', 'Could not reach the Echo server.'));
    await renderScreen(api);
    expect(screen.getByText('Could not load your keys: Could not reach the Echo server.')).toBeTruthy();
  });
});
