/**
 * Who talks with an echo: their name and what they are to it (e.g. granddaughter). Both optional; the echo
 * uses them in its replies ("You are talking with Anna, your granddaughter"), so it never calls the person by
 * another name or relation. Shared by the new-echo and edit-echo screens.
 */
import { TextField } from '@/components/ui/TextField';

/** The server's limit for each of the two fields. */
export const TALKER_MAX = 80;

export interface Talker {
  talking_with: string;
  relation: string;
}

/** What is wrong with one of the two fields, or null (empty is fine: they are optional). */
export function talkerError(value: string): string | null {
  return value.trim().length > TALKER_MAX ? `Keep this under ${TALKER_MAX} characters.` : null;
}

export function TalkerFields({
  echoName,
  value,
  onChange,
  editable = true,
  showErrors = false,
  testIDPrefix,
}: {
  /** The echo's name as typed so far ("them" until there is one). */
  echoName: string;
  value: Talker;
  onChange: (value: Talker) => void;
  editable?: boolean;
  showErrors?: boolean;
  /** "echo" gives echo-talking-with-input and echo-relation-input. */
  testIDPrefix: string;
}) {
  const who = echoName.trim() || 'them';
  return (
    <>
      <TextField
        label={`Who will talk with ${who}? (optional)`}
        hint="Your name, so that the echo calls you by it."
        placeholder="e.g. Anna"
        value={value.talking_with}
        onChangeText={(talking_with) => onChange({ ...value, talking_with })}
        maxLength={TALKER_MAX + 20}
        autoCapitalize="words"
        autoComplete="off"
        editable={editable}
        error={showErrors ? talkerError(value.talking_with) : null}
        testID={`${testIDPrefix}-talking-with-input`}
      />
      <TextField
        label={`What are you to ${who}? (optional)`}
        hint="For example granddaughter, son or neighbour."
        placeholder="e.g. granddaughter"
        value={value.relation}
        onChangeText={(relation) => onChange({ ...value, relation })}
        maxLength={TALKER_MAX + 20}
        autoCapitalize="none"
        autoComplete="off"
        editable={editable}
        error={showErrors ? talkerError(value.relation) : null}
        testID={`${testIDPrefix}-relation-input`}
      />
    </>
  );
}
