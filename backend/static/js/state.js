// What the page knows, shared by its parts; parts listen for "voices" and "echos" to redraw.

export const state = {
  voices: [], // voice models loaded so far, newest first
  voicesTotal: 0,
  echos: [],
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

export const PROVIDER_NAMES = {
  local: "Local engine",
  fish: "Fish.Audio",
};

export function providerName(provider) {
  return PROVIDER_NAMES[provider] || provider || "Unknown provider";
}
