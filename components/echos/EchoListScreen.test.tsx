import { act, fireEvent, screen, waitFor } from '@testing-library/react-native';

import { deferred, makeMockApi } from '@/test-utils/api';
import { ECHO, VOICE } from '@/test-utils/fixtures';
import { renderWithSession } from '@/test-utils/render';
import { mockRouter } from '@/test-utils/router';

import { EchoListScreen } from './EchoListScreen';

jest.mock('expo-router', () => require('@/test-utils/router').routerModule());

beforeEach(() => jest.clearAllMocks());

describe('EchoListScreen', () => {
  it('shows a loading state, then the echos', async () => {
    const api = makeMockApi();
    const pending = deferred<{ success: true; echos: (typeof ECHO)[]; count: number }>();
    api.listEchos.mockReturnValue(pending.promise);
    renderWithSession(<EchoListScreen />, { api });
    expect(screen.getByTestId('loading-view')).toBeTruthy();
    await act(async () => pending.resolve({ success: true, echos: [ECHO], count: 1 }));
    expect(screen.getByText('Grandma Rose')).toBeTruthy();
    expect(screen.getByText('Warm, funny, loves gardening.')).toBeTruthy();
  });

  it('shows the empty state with a create button', async () => {
    const api = makeMockApi();
    api.listEchos.mockResolvedValue({ success: true, echos: [], count: 0 });
    renderWithSession(<EchoListScreen />, { api });
    expect(await screen.findByText('No echos yet')).toBeTruthy();
    fireEvent.press(screen.getByTestId('new-echo-button'));
    expect(mockRouter.push).toHaveBeenCalledWith('/echo/new');
  });

  it('walks a first visit (no voices, no echos) through the three steps', async () => {
    const api = makeMockApi();
    api.listEchos.mockResolvedValue({ success: true, echos: [], count: 0 });
    api.listVoiceModels.mockResolvedValue({ success: true, voice_models: [], count: 0 });
    renderWithSession(<EchoListScreen />, { api });
    expect(await screen.findByTestId('first-visit')).toBeTruthy();
    expect(screen.getByText('A recording')).toBeTruthy();
    expect(screen.getByText('A voice')).toBeTruthy();
    expect(screen.getByText('An echo')).toBeTruthy();
    expect(screen.queryByText(/model|clone|upload/i)).toBeNull();
    fireEvent.press(screen.getByTestId('first-visit-start'));
    expect(mockRouter.push).toHaveBeenCalledWith('/echo/new');
  });

  it('offers to make an echo with a voice the person already has', async () => {
    const api = makeMockApi();
    api.listEchos.mockResolvedValue({ success: true, echos: [], count: 0 });
    api.listVoiceModels.mockResolvedValue({ success: true, voice_models: [VOICE], count: 1 });
    renderWithSession(<EchoListScreen />, { api });
    expect(await screen.findByText('No echos yet')).toBeTruthy();
    expect(screen.getByText(/You have a voice ready/)).toBeTruthy();
    expect(screen.queryByTestId('first-visit')).toBeNull();
  });

  it('lands on the echos when there are some, not on the first steps', async () => {
    const api = makeMockApi();
    api.listEchos.mockResolvedValue({ success: true, echos: [ECHO], count: 1 });
    api.listVoiceModels.mockResolvedValue({ success: true, voice_models: [], count: 0 });
    renderWithSession(<EchoListScreen />, { api });
    expect(await screen.findByTestId('echo-row-e1')).toBeTruthy();
    expect(screen.queryByTestId('first-visit')).toBeNull();
  });

  it("shows the server's message on error and retries", async () => {
    const api = makeMockApi();
    api.listEchos.mockRejectedValueOnce(new Error('The database is unavailable right now.'));
    api.listEchos.mockResolvedValueOnce({ success: true, echos: [ECHO], count: 1 });
    renderWithSession(<EchoListScreen />, { api });
    expect(await screen.findByText('The database is unavailable right now.')).toBeTruthy();
    fireEvent.press(screen.getByTestId('retry-button'));
    expect(await screen.findByText('Grandma Rose')).toBeTruthy();
  });

  it("says on its row that an echo's voice was deleted, or that it has none", async () => {
    const api = makeMockApi();
    const deleted = { ...ECHO, _id: 'e2', name: 'Grandpa Joe', voice_model_id: null, voice_status: 'deleted' as const };
    const none = { ...ECHO, _id: 'e3', name: 'Aunt May', voice_model_id: null, voice_status: 'none' as const };
    api.listEchos.mockResolvedValue({ success: true, echos: [{ ...ECHO, voice_status: 'ready' }, deleted, none], count: 3 });
    renderWithSession(<EchoListScreen />, { api });
    expect(await screen.findByTestId('echo-voice-notice-e2')).toBeTruthy();
    expect(screen.getByText("This echo's voice was deleted; choose another voice for it.")).toBeTruthy();
    expect(screen.getByTestId('echo-voice-notice-e3').props.children).toBe('This echo has no voice yet; choose one for it.');
    expect(screen.queryByTestId('echo-voice-notice-e1')).toBeNull();
    expect(screen.getByTestId('echo-row-e2').props.accessibilityLabel).toBe(
      "Talk with Grandpa Joe. This echo's voice was deleted; choose another voice for it.",
    );
    fireEvent.press(screen.getByTestId('echo-row-e2'));
    expect(mockRouter.push).toHaveBeenCalledWith('/echo/e2');
  });

  it('opens a conversation when an echo is pressed', async () => {
    const api = makeMockApi();
    api.listEchos.mockResolvedValue({ success: true, echos: [ECHO], count: 1 });
    renderWithSession(<EchoListScreen />, { api });
    fireEvent.press(await screen.findByTestId('echo-row-e1'));
    expect(mockRouter.push).toHaveBeenCalledWith('/echo/e1');
  });

  it('reloads on pull to refresh', async () => {
    const api = makeMockApi();
    api.listEchos.mockResolvedValue({ success: true, echos: [ECHO], count: 1 });
    renderWithSession(<EchoListScreen />, { api });
    const list = await screen.findByTestId('echo-list');
    await act(async () => list.props.refreshControl.props.onRefresh());
    await waitFor(() => expect(api.listEchos).toHaveBeenCalledTimes(2));
  });
});
