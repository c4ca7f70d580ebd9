// The error every config section throws: its own module so that config readers anywhere (model, coordination,
// training, tokenizer) can import it without importing each other.

/** A config value that is missing, unknown or out of range (the message names the field). */
export class ConfigError extends Error {}
