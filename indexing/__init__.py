"""Indexing: the one path from a video file to its memory (caption levels and speech).

    Indexer.index(targets, levels, speech, run)        register -> plan every clip -> engine -> speech
        engine: serial | pipelined | ray               how clips are spread over threads or machines
            caption_clips(captioner, sampled clips)    the one caption step (request -> caption)
        Indexer.keep(...)                              the one place a caption becomes a stored node

The CLI, the web app's jobs, the Python API, the baselines and the agent's zoom all call the Indexer.
"""
