"""LLM backbones. The interface is LangChain's BaseChatModel; factory.make_chat_model builds one from a spec."""
