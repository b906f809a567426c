import { act, fireEvent, screen, waitFor } from '@testing-library/react-native';
import * as DocumentPicker from 'expo-document-picker';

import { ApiError } from '@/lib/api';
import type { UploadResponse } from '@/lib/types';
import { makeMockApi } from '@/test-utils/api';
import { VOICE } from '@/test-utils/fixtures';
import { renderWithSession } from '@/test-utils/render';
import { mockRouter } from '@/test-utils/router';

import { CloneVoiceScreen } from './CloneVoiceScreen';

jest.mock('expo-router', () => require('@/test-utils/router').routerModule());

const picked = {
  canceled: false,
  assets: [{ uri: 'file:///cache/joe.wav', name: 'joe.wav', mimeType: 'audio/wav', size: 480_000, lastModified: 0 }],
} as unknown as DocumentPicker.DocumentPickerResult;

const UPLOADED: UploadResponse = { success: true, model_id: 'm1', reference_id: 'm1', name: 'Joe', provider: 'local', database_record: VOICE, warnings: [] };

beforeEach(() => {
  jest.clearAllMocks();
  mockRouter.canGoBack.mockReturnValue(true);
  jest.mocked(DocumentPicker.getDocumentAsync).mockResolvedValue(picked);
});

async function fill() {
  fireEvent.changeText(screen.getByTestId('voice-name-input'), ' Joe ');
  await act(async () => fireEvent.press(screen.getByTestId('pick-file-button')));
  expect(await screen.findByText('joe.wav')).toBeTruthy();
}

describe('CloneVoiceScreen', () => {
  it('says what is missing and uploads nothing', async () => {
    const api = makeMockApi();
    renderWithSession(<CloneVoiceScreen />, { api });
    fireEvent.press(screen.getByTestId('clone-voice-submit'));
    expect(await screen.findByText('Give the voice a name.')).toBeTruthy();
    expect(screen.getByText('Choose an audio file or record a voice.')).toBeTruthy();
    expect(screen.getByText("You need the speaker's consent to clone their voice.")).toBeTruthy();
    expect(api.uploadReference).not.toHaveBeenCalled();
  });

  it('makes a voice with no echo and goes back to the voices', async () => {
    const api = makeMockApi();
    api.uploadReference.mockResolvedValue(UPLOADED);
    renderWithSession(<CloneVoiceScreen />, { api });
    await fill();
    fireEvent.press(screen.getByTestId('voice-consent-checkbox'));
    await act(async () => fireEvent.press(screen.getByTestId('clone-voice-submit')));
    await waitFor(() => expect(mockRouter.back).toHaveBeenCalled());
    const [input] = api.uploadReference.mock.calls[0]!;
    expect(input).toMatchObject({ name: 'Joe', consent: true });
    expect(input.echoId).toBeUndefined();
  });

  it("shows the server's words (a rate limit says when) and stays", async () => {
    const api = makeMockApi();
    api.uploadReference.mockRejectedValue(new ApiError(429, 'rate_limited', 'You can clone another voice in 47 minutes.', 2820));
    renderWithSession(<CloneVoiceScreen />, { api });
    await fill();
    fireEvent.press(screen.getByTestId('voice-consent-checkbox'));
    await act(async () => fireEvent.press(screen.getByTestId('clone-voice-submit')));
    expect(screen.getByTestId('clone-error')).toHaveTextContent('You can clone another voice in 47 minutes.');
    expect(mockRouter.back).not.toHaveBeenCalled();
  });

  it('opened from a link, goes to the voices instead of back', async () => {
    mockRouter.canGoBack.mockReturnValue(false);
    renderWithSession(<CloneVoiceScreen />, { api: makeMockApi() });
    fireEvent.press(screen.getByTestId('header-home-button'));
    expect(mockRouter.replace).toHaveBeenCalledWith('/voices');
  });
});
