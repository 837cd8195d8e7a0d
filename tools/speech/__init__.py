"""Hearing the video: ASR (faster-whisper, OpenAI-compatible servers), subtitles, optional diarization."""
