import { SettingsScreen } from '@/components/settings/SettingsScreen';

export default SettingsScreen;
