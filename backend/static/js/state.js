// What the page knows, shared by its parts; parts listen for "voices", "echos" and "health" to redraw.

export const state = {
  voices: [], // voice models loaded so far, newest first
  voicesTotal: 0,
  echos: [],
  echosLoaded: false, // the list has come from the server at least once
  languageModel: null, // /health's components.language_model ({provider, model, description}), once known
};

export const events = new EventTarget();

export function emit(name) {
  events.dispatchEvent(new Event(name));
}

export function on(name, handler) {
  events.addEventListener(name, handler);
}

export function voiceName(modelId) {
  const voice = state.voices.find((v) => v.model_id === modelId);
  return voice ? voice.name : null;
}

/** The echo a voice speaks for (the server lets a voice speak for one echo only), or null. */
export function echoOfVoice(voice) {
  return (
    state.echos.find((e) => voice.echo_id && e._id === voice.echo_id) ||
    state.echos.find((e) => e.voice_model_id === voice.model_id) ||
    null
  );
}

export const PROVIDER_NAMES = {
  local: "The engine on this server",
  fish: "Fish.Audio",
  "fish-speech": "fish-speech (self-hosted)",
};

export function providerName(provider) {
  return PROVIDER_NAMES[provider] || provider || "Unknown provider";
}
