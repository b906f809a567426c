import { act, fireEvent, screen, waitFor } from '@testing-library/react-native';

import { ApiError } from '@/lib/api';
import { confirmAsync } from '@/lib/confirm';
import type { Echo, VoiceModel } from '@/lib/types';
import { makeMockApi, type MockApi } from '@/test-utils/api';
import { ECHO, VOICE } from '@/test-utils/fixtures';
import { renderWithSession } from '@/test-utils/render';
import { mockRouter } from '@/test-utils/router';

import { EditEchoScreen } from './EditEchoScreen';

jest.mock('expo-router', () => require('@/test-utils/router').routerModule());
jest.mock('@/lib/confirm', () => ({ confirmAsync: jest.fn() }));

const OWN: VoiceModel = { ...VOICE, echo_id: 'e1' };
const FREE: VoiceModel = { ...VOICE, _id: 'v2', model_id: 'm2', name: 'Second voice', echo_id: null };
const TAKEN: VoiceModel = { ...VOICE, _id: 'v3', model_id: 'm3', name: 'Joe', echo_id: 'e9' };
const READY: Echo = { ...ECHO, voice_status: 'ready' };
const DELETED: Echo = { ...ECHO, voice_model_id: null, voice_status: 'deleted' };
const TO_CONVERSATION = { pathname: '/echo/[id]', params: { id: 'e1' } };

function apiWith(echo: Echo = READY, voices: VoiceModel[] = [OWN, FREE, TAKEN]): MockApi {
  const api = makeMockApi();
  api.getEcho.mockResolvedValue({ success: true, echo });
  api.listVoiceModels.mockResolvedValue({ success: true, voice_models: voices, count: voices.length });
  return api;
}

beforeEach(() => {
  jest.clearAllMocks();
  mockRouter.canGoBack.mockReturnValue(true);
});

describe('EditEchoScreen', () => {
  it('starts from the echo as it is and sends only what changed', async () => {
    const api = apiWith();
    api.updateEcho.mockResolvedValue({ success: true, echo: { ...READY, name: 'Nana Rose' } });
    renderWithSession(<EditEchoScreen echoId="e1" />, { api });
    await waitFor(() => expect(screen.getByTestId('edit-name-input').props.value).toBe('Grandma Rose'));
    expect(screen.getByTestId('edit-persona-input').props.value).toBe('Warm, funny, loves gardening.');
    expect(screen.getByTestId('voice-choice-m1').props.accessibilityState).toMatchObject({ checked: true });
    expect(screen.getByTestId('voice-choice-m3').props.accessibilityState).toMatchObject({ disabled: true });
    fireEvent.changeText(screen.getByTestId('edit-name-input'), ' Nana Rose ');
    await act(async () => fireEvent.press(screen.getByTestId('edit-save')));
    expect(api.updateEcho).toHaveBeenCalledWith('e1', { name: 'Nana Rose' });
    expect(mockRouter.back).toHaveBeenCalled();
  });

  it('changes the persona and the voice', async () => {
    const api = apiWith();
    api.updateEcho.mockResolvedValue({ success: true, echo: { ...READY, voice_model_id: 'm2' } });
    renderWithSession(<EditEchoScreen echoId="e1" />, { api });
    await waitFor(() => expect(screen.getByTestId('edit-name-input').props.value).toBe('Grandma Rose'));
    fireEvent.changeText(screen.getByTestId('edit-persona-input'), 'Loves roses.');
    fireEvent.press(screen.getByTestId('voice-choice-m2'));
    await act(async () => fireEvent.press(screen.getByTestId('edit-save')));
    expect(api.updateEcho).toHaveBeenCalledWith('e1', { persona_prompt: 'Loves roses.', voice_model_id: 'm2' });
  });

  it('starts with who talks with the echo, and saves a changed relation and a cleared name', async () => {
    const api = apiWith({ ...READY, talking_with: 'Anna', relation: 'granddaughter' });
    api.updateEcho.mockResolvedValue({ success: true, echo: { ...READY, talking_with: '', relation: 'grandson' } });
    renderWithSession(<EditEchoScreen echoId="e1" />, { api });
    await waitFor(() => expect(screen.getByTestId('edit-talking-with-input').props.value).toBe('Anna'));
    expect(screen.getByTestId('edit-relation-input').props.value).toBe('granddaughter');
    expect(screen.getByLabelText('Who will talk with Grandma Rose? (optional)')).toBe(screen.getByTestId('edit-talking-with-input'));
    expect(screen.getByLabelText('What are you to Grandma Rose? (optional)')).toBe(screen.getByTestId('edit-relation-input'));
    fireEvent.changeText(screen.getByTestId('edit-talking-with-input'), '  ');
    fireEvent.changeText(screen.getByTestId('edit-relation-input'), ' grandson ');
    await act(async () => fireEvent.press(screen.getByTestId('edit-save')));
    // An emptied field is sent as "" (the server clears it); nothing else changed, so nothing else is sent.
    expect(api.updateEcho).toHaveBeenCalledWith('e1', { talking_with: '', relation: 'grandson' });
    expect(mockRouter.back).toHaveBeenCalled();
  });

  it('leaves who talks with it alone when only the name changes, and refuses more than 80 characters', async () => {
    const api = apiWith({ ...READY, talking_with: 'Anna', relation: 'granddaughter' });
    api.updateEcho.mockResolvedValue({ success: true, echo: { ...READY, name: 'Nana Rose' } });
    renderWithSession(<EditEchoScreen echoId="e1" />, { api });
    await waitFor(() => expect(screen.getByTestId('edit-talking-with-input').props.value).toBe('Anna'));
    fireEvent.changeText(screen.getByTestId('edit-talking-with-input'), 'A'.repeat(81));
    await act(async () => fireEvent.press(screen.getByTestId('edit-save')));
    expect(screen.getByText('Keep this under 80 characters.')).toBeTruthy();
    expect(api.updateEcho).not.toHaveBeenCalled();
    fireEvent.changeText(screen.getByTestId('edit-talking-with-input'), 'Anna');
    fireEvent.changeText(screen.getByTestId('edit-name-input'), 'Nana Rose');
    // The questions follow the name as it is typed.
    expect(screen.getByLabelText('What are you to Nana Rose? (optional)')).toBeTruthy();
    await act(async () => fireEvent.press(screen.getByTestId('edit-save')));
    expect(api.updateEcho).toHaveBeenCalledWith('e1', { name: 'Nana Rose' });
  });

  it('adds who talks with an echo made before the question was asked', async () => {
    const { talking_with: _t, relation: _r, ...older } = READY;
    const api = apiWith(older);
    api.updateEcho.mockResolvedValue({ success: true, echo: { ...READY, talking_with: 'Sam' } });
    renderWithSession(<EditEchoScreen echoId="e1" />, { api });
    await waitFor(() => expect(screen.getByTestId('edit-name-input').props.value).toBe('Grandma Rose'));
    expect(screen.getByTestId('edit-talking-with-input').props.value).toBe('');
    expect(screen.getByTestId('edit-relation-input').props.value).toBe('');
    fireEvent.changeText(screen.getByTestId('edit-talking-with-input'), 'Sam');
    await act(async () => fireEvent.press(screen.getByTestId('edit-save')));
    expect(api.updateEcho).toHaveBeenCalledWith('e1', { talking_with: 'Sam' });
  });

  it('does not save an empty name', async () => {
    const api = apiWith();
    renderWithSession(<EditEchoScreen echoId="e1" />, { api });
    await waitFor(() => expect(screen.getByTestId('edit-name-input').props.value).toBe('Grandma Rose'));
    fireEvent.changeText(screen.getByTestId('edit-name-input'), '  ');
    await act(async () => fireEvent.press(screen.getByTestId('edit-save')));
    expect(screen.getByText('Give your echo a name.')).toBeTruthy();
    expect(api.updateEcho).not.toHaveBeenCalled();
  });

  it('says that the voice was deleted and offers another, never a stock voice', async () => {
    const api = apiWith(DELETED, [FREE, TAKEN]);
    api.updateEcho.mockResolvedValue({ success: true, echo: { ...READY, voice_model_id: 'm2' } });
    renderWithSession(<EditEchoScreen echoId="e1" />, { api });
    expect(await screen.findByTestId('edit-voice-notice')).toHaveTextContent("This echo's voice was deleted; choose another voice for it.");
    // Nothing is chosen for it: saving the name alone does not give it a voice.
    expect(screen.getByTestId('voice-choice-m2').props.accessibilityState).toMatchObject({ checked: false });
    fireEvent.press(screen.getByTestId('voice-choice-m2'));
    await act(async () => fireEvent.press(screen.getByTestId('edit-save')));
    expect(api.updateEcho).toHaveBeenCalledWith('e1', { voice_model_id: 'm2' });
    expect(api.speakAsEcho).not.toHaveBeenCalled();
    expect(api.synthesize).not.toHaveBeenCalled();
  });

  it('says when no voice is free, and offers to make one', async () => {
    const api = apiWith(DELETED, [TAKEN]);
    renderWithSession(<EditEchoScreen echoId="e1" />, { api });
    expect(await screen.findByTestId('edit-no-free-voice')).toHaveTextContent('Each of your voices already speaks for another echo.');
    fireEvent.press(screen.getByTestId('edit-new-voice'));
    expect(mockRouter.push).toHaveBeenCalledWith('/voice/new');
  });

  it("shows the server's words when saving fails and keeps the edits", async () => {
    const api = apiWith();
    api.updateEcho.mockRejectedValue(new ApiError(409, 'voice_in_use', 'That voice already speaks for another echo.'));
    renderWithSession(<EditEchoScreen echoId="e1" />, { api });
    await waitFor(() => expect(screen.getByTestId('edit-name-input').props.value).toBe('Grandma Rose'));
    fireEvent.changeText(screen.getByTestId('edit-name-input'), 'Nana');
    await act(async () => fireEvent.press(screen.getByTestId('edit-save')));
    expect(await screen.findByText('That voice already speaks for another echo.')).toBeTruthy();
    await waitFor(() => expect(api.listVoiceModels).toHaveBeenCalledTimes(2));
    expect(screen.getByTestId('edit-name-input').props.value).toBe('Nana');
    expect(mockRouter.back).not.toHaveBeenCalled();
  });

  it('deletes the echo after confirmation and goes to the list', async () => {
    const api = apiWith();
    api.deleteEcho.mockResolvedValue({ success: true });
    jest.mocked(confirmAsync).mockResolvedValue(true);
    renderWithSession(<EditEchoScreen echoId="e1" />, { api });
    await screen.findByTestId('delete-echo-button');
    await act(async () => fireEvent.press(screen.getByTestId('delete-echo-button')));
    expect(confirmAsync).toHaveBeenCalledWith('Delete Grandma Rose?', expect.any(String));
    expect(api.deleteEcho).toHaveBeenCalledWith('e1');
    expect(mockRouter.dismissTo).toHaveBeenCalledWith('/');
  });

  it('opened from a link, has a way back to the conversation and goes there after saving', async () => {
    mockRouter.canGoBack.mockReturnValue(false);
    const api = apiWith();
    renderWithSession(<EditEchoScreen echoId="e1" />, { api });
    await waitFor(() => expect(screen.getByTestId('edit-name-input').props.value).toBe('Grandma Rose'));
    fireEvent.press(screen.getByTestId('header-home-button'));
    expect(mockRouter.replace).toHaveBeenCalledWith(TO_CONVERSATION);
    mockRouter.replace.mockClear();
    await act(async () => fireEvent.press(screen.getByTestId('edit-save'))); // nothing changed: just leave
    expect(api.updateEcho).not.toHaveBeenCalled();
    expect(mockRouter.replace).toHaveBeenCalledWith(TO_CONVERSATION);
  });
});
