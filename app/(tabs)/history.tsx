import { HistoryScreen } from '@/components/history/HistoryScreen';

export default HistoryScreen;
