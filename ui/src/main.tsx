import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { QueryClientProvider } from '@tanstack/react-query'
import { App } from './App'
import { createQueryClient } from './lib/queryClient'
import { startLiveUpdates } from './lib/live'
import './index.css'

const queryClient = createQueryClient()
startLiveUpdates(queryClient)

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <App />
    </QueryClientProvider>
  </StrictMode>,
)
